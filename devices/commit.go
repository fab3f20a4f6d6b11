package devices

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// UpdateKind is what an accepted message does to the twin.
type UpdateKind int

// Update kinds, one per signed topic class of SPEC §1 that reaches Commit.
const (
	// Telemetry (city/.../tele/...) moves the window and the security
	// counters only.
	Telemetry UpdateKind = iota
	// State (city/.../state) merges Patch into reported (RFC 7396) after
	// domain validation (SPEC §4 step 10).
	State
	// Desired (city/.../cmd/..., signed by an operator) merges Patch into
	// desired of Update.Device; an empty Patch moves the window only.
	Desired
	// Event (city/.../evt/...) moves the window and the counters.
	Event
	// Ack (city/.../ack, signed by the device) moves the window and the
	// counters and, with Patch the ack's payload, settles the command it
	// answers in the twin (twin.Document.ApplyAck).
	Ack
)

var updateKindNames = [...]string{"telemetry", "state", "desired", "event", "ack"}

// String returns the kind's lower-case name.
func (k UpdateKind) String() string {
	if int(k) < len(updateKindNames) {
		return updateKindNames[k]
	}
	return fmt.Sprintf("UpdateKind(%d)", int(k))
}

// Update is one verified message on its way to the twin.
type Update struct {
	KID     []byte     // the signing key
	Counter uint64     // the envelope's piv (SPEC §2, §6)
	Kind    UpdateKind // what it changes
	// Device is the target of a Desired update (the device the command is
	// for). For device-signed updates it may be empty; if set it must be
	// the key's own device.
	Device string
	Patch  []byte    // JSON merge patch (State, Desired), or the ack (Ack)
	TS     time.Time // when the broker received the message, for twin meta
	// Command, for a Desired update, is the checked command: its desired
	// patch (computed by devices/catalog) replaces Patch, and the twin
	// follows its life (twin.Document.ApplyCommand).
	Command *twin.CommandChange
}

// PreCheck is the read-only replay check of SPEC §4 step 7: it reports
// whether Commit would accept ctr for kid right now, without changing
// anything, so that a replay costs no signature verification.
func (e *Edge) PreCheck(kid []byte, ctr uint64) error {
	k, ok := e.KeyByKID(kid)
	if !ok {
		return signing.Reject(signing.ReasonUnknownKID, "protected.kid", "kid %s is not registered", signing.FormatKeyID(kid))
	}
	k.state.mu.Lock()
	ok = k.state.window.Check(ctr)
	k.state.mu.Unlock()
	if !ok {
		return replayRejection(kid, ctr)
	}
	return nil
}

func replayRejection(kid []byte, ctr uint64) *signing.Rejection {
	return signing.Reject(signing.ReasonReplay, "protected.piv", "counter %d of kid %s already seen or outside the window", ctr, signing.FormatKeyID(kid))
}

// Commit applies a verified message: the window test-and-set (exactly once:
// of two concurrent Commits with one counter, one wins and the other gets
// replay) inside a durable lease, domain validation of reported state, the
// twin merge, and the durable write through the group committer (SPEC §4
// steps 10 and 11). It returns the twin after the change. In Strict mode it
// returns only when the lease and any reported or desired change are
// durable: a telemetry message or event whose lease was extended ahead
// waits for nothing. If ctx ends first, it returns ctx's error but the
// change stays applied and will be written.
//
// Rejections are *signing.Rejection: unknown_kid, revoked, impersonation
// (a device naming another device, or an operator key on a device topic),
// unauthorized_command (a device sending a desired update), replay and
// invalid_state (a patch that is not a JSON object, or a reported state the
// kind's profile refuses). A rejected Update changes nothing, and Commit does
// not count it: the caller records every rejection, from whichever step,
// once, with RecordRejection.
func (e *Edge) Commit(ctx context.Context, u Update) (*twin.Document, error) {
	p, err := e.Stage(u)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is an Update that Stage has applied in memory and queued for the
// store: its counter is taken and its twin change made.
type Pending struct {
	next    *twin.Document
	batch   *batch          // the store transaction that will write it; nil: nothing to write
	backlog <-chan struct{} // Relaxed: the batch to wait for, if the store is behind
	strict  bool
	redo    *redo // to apply it again to a twin another broker changed (edge_adopt.go)
}

// Stage is the first half of Commit: every check and the change in memory,
// in the order of the calls (a later Stage of the same key or device sees
// this one's change), and the change queued for the store. Changes staged
// in order reach the store in that order. Wait is the second half.
func (e *Edge) Stage(u Update) (*Pending, error) {
	if err := e.com.usable(); err != nil {
		return nil, err
	}
	idx := e.index.Load()
	k, ok := idx.keys[string(u.KID)]
	if !ok {
		return nil, signing.Reject(signing.ReasonUnknownKID, "protected.kid", "kid %s is not registered", signing.FormatKeyID(u.KID))
	}
	if !k.Usable(e.opt.Now()) {
		return nil, signing.Reject(signing.ReasonRevoked, "protected.kid", "kid %s is revoked or expired", signing.FormatKeyID(u.KID))
	}
	dev, err := e.target(idx, k, u)
	if err != nil {
		return nil, err
	}

	k.state.mu.Lock()
	// The counter must lie inside a durable lease before it takes effect;
	// this waits for a store write only when the lease was not extended
	// ahead of use (docs/counters.md).
	if err := e.awaitLease(k, u.Counter); err != nil {
		k.state.mu.Unlock()
		return nil, err
	}
	dev.mu.Lock()
	next, err := e.apply(dev, k, u)
	if err != nil {
		dev.mu.Unlock()
		k.state.mu.Unlock()
		return nil, err
	}
	k.state.window.Accept(u.Counter)
	k.state.compact = true
	e.extendAhead(k)
	// The lease covering the counter is durable already, so the counter
	// needs no write of its own; the whole window is written at Close.
	p := &Pending{next: next, strict: e.opt.Durability != Relaxed}
	if next.Version != dev.twin.Version {
		// A reported or desired change: written with the message. The
		// twin is encoded by the committer, once per batch and device:
		// next is never modified again, so it can wait.
		p.batch, p.backlog = e.com.enqueue(entry{dev: dev, doc: next})
		p.redo = &redo{e: e, dev: dev, k: k, u: u}
	} else {
		// Only the security counters moved (telemetry, events): written
		// within FlushInterval, and nothing to wait for.
		e.com.markDirty(dev)
	}
	dev.twin = next
	dev.mu.Unlock()
	k.state.mu.Unlock()
	return p, nil
}

// Wait returns the twin after the change once it may take effect: in Strict
// mode when it is durable, in Relaxed mode at once unless the store is more
// than a few transactions behind. If ctx ends first, it returns ctx's error,
// but the change stays applied and will be written.
func (p *Pending) Wait(ctx context.Context) (*twin.Document, error) {
	if p.batch == nil {
		return p.next, nil // its lease was durable before Stage returned
	}
	if !p.strict {
		if p.backlog != nil {
			select {
			case <-p.backlog:
			case <-ctx.Done():
				return nil, fmt.Errorf("devices: waiting for the store to catch up: %w", ctx.Err())
			}
		}
		return p.next, nil
	}
	select {
	case <-p.batch.done:
		if p.batch.err != nil {
			return p.redo.settle(ctx, p.next, p.batch.err)
		}
		return p.next, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("devices: waiting for durable commit: %w", ctx.Err())
	}
}

// target is the device whose twin u changes, after the ownership checks of
// SPEC §4 step 5 and the command rules of §5 that belong to the registry.
func (e *Edge) target(idx *index, k *KeyRecord, u Update) (*edgeDevice, error) {
	switch k.Role {
	case RoleDevice:
		if u.Kind == Desired {
			return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "topic", "device %s may not set desired state", k.Owner)
		}
		if u.Device != "" && u.Device != k.Owner {
			return nil, signing.Reject(signing.ReasonImpersonation, "protected.kid", "kid %s belongs to device %s, not %s", signing.FormatKeyID(k.KID), k.Owner, u.Device)
		}
		return k.device, nil
	case RoleOperator:
		if u.Kind != Desired {
			return nil, signing.Reject(signing.ReasonImpersonation, "protected.kid", "kid %s belongs to operator %s, not a device", signing.FormatKeyID(k.KID), k.Owner)
		}
		dev, ok := idx.devices[u.Device]
		if !ok {
			return nil, signing.Reject(signing.ReasonBadTopic, "topic", "no device %q", u.Device)
		}
		return dev, nil
	}
	return nil, signing.Reject(signing.ReasonUnknownKID, "protected.kid", "kid %s is not a signing key", signing.FormatKeyID(k.KID))
}

// apply returns the next twin of dev; dev.mu is held.
func (e *Edge) apply(dev *edgeDevice, k *KeyRecord, u Update) (*twin.Document, error) {
	ts := u.TS
	if ts.IsZero() {
		ts = e.opt.Now()
	}
	meta := twin.FieldMeta{TS: ts, KID: k.kidText, Ctr: u.Counter}
	next := dev.twin.Clone()
	// Only the fields of the device's profile may appear in a patch, and
	// the twin stays within its size (SPEC §4 step 10).
	rules := twin.Rules{
		MaxBytes: e.opt.MaxTwinBytes,
		MaxDepth: e.opt.MaxPatchDepth,
		Patch:    func(p map[string]any) error { return kinds.ValidatePatch(dev.profile, p) },
	}
	switch u.Kind {
	case State:
		rules.Validate = func(prev, next map[string]any) error {
			return dev.profile.ValidateReported(dev.params, prev, next)
		}
		if err := next.ApplyReportedWith(u.Patch, meta, rules); err != nil {
			return nil, err
		}
	case Desired:
		if u.Command != nil {
			if err := next.ApplyCommand(*u.Command, meta); err != nil {
				return nil, err // stale_version: see twin.Document.CheckVersion
			}
		} else if len(u.Patch) > 0 {
			if err := next.ApplyDesiredWith(u.Patch, meta, rules); err != nil {
				return nil, err
			}
		}
	case Ack:
		next.ApplyAck(u.Patch, meta)
	}
	// Every accepted message of the device is a moment to notice a command
	// that expired unanswered.
	next.ExpireCommands(ts)
	next.RecordAccepted(u.Counter)
	return next, nil
}

// RecordRejection counts a rejected message in the device's twin security
// counters (SPEC §7). The count is written within about
// Options.FlushInterval, never with an fsync of its own. An unknown
// device is ignored: there is no twin to count in.
func (e *Edge) RecordRejection(device string, reason signing.Reason) {
	dev, ok := e.index.Load().devices[device]
	if !ok {
		return
	}
	dev.mu.Lock()
	next := dev.twin.Clone()
	next.RecordRejection(reason)
	dev.twin = next
	e.com.markDirty(dev)
	dev.mu.Unlock()
}
