package twin

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/signet-city/signet/signing"
)

// A command's life in the twin: accepted by the broker, it sets desired (and
// so delta) and is "pending" under meta.commands[<name>]; the device's signed
// ack, correlated by the operator's kid and the command's counter, makes it
// "done" or "refused"; a command that reaches its exp unanswered is
// "expired"; cancel makes a pending one "cancelled". Every status but
// pending withdraws the desired fields the command still owns, so a delta
// never outlives the command that caused it.

// Command statuses in meta.
const (
	StatusPending   = "pending"
	StatusDone      = "done"
	StatusRefused   = "refused"
	StatusExpired   = "expired"
	StatusCancelled = "cancelled"
)

// CommandLife is the part of a meta entry that follows a command.
type CommandLife struct {
	Command string `json:"cmd,omitempty"`    // the command's name
	Status  string `json:"status,omitempty"` // pending, done, refused, expired, cancelled
	Reason  string `json:"reason,omitempty"` // the device's reason when refused
	Exp     int64  `json:"exp,omitempty"`    // the command's exp, seconds since the epoch
	// Fields are the desired fields it still owns, comma-separated (a
	// string keeps FieldMeta comparable).
	Fields string     `json:"fields,omitempty"`
	AckTS  *time.Time `json:"ack_ts,omitempty"` // when the device's ack was accepted
}

// CommandChange is what an accepted command does to the twin.
type CommandChange struct {
	Name    string
	Desired map[string]any // merge patch of desired, computed by devices/catalog
	Expires time.Time
	Cancels string // for cancel: the command whose pending fields it withdraws
	// IfVersion, if not 0, is the twin version the command was decided
	// on: it is refused as stale if the twin is at any other.
	IfVersion uint64
}

// Ack is a device's answer to a command, the payload of city/{zone}/
// {device}/ack.
type Ack struct {
	Command string `json:"cmd"`
	KID     string `json:"kid,omitempty"`
	Counter uint64 `json:"ctr,omitempty"`
	Status  string `json:"status"` // done or refused
	Reason  string `json:"reason,omitempty"`
}

// ApplyCommand records an accepted command (m names its operator key and
// counter): its fields into desired, and its life as pending. A command
// decided on another version than the twin's (c.IfVersion) is refused with
// reason stale_version and changes nothing.
func (d *Document) ApplyCommand(c CommandChange, m FieldMeta) error {
	if err := d.CheckVersion(c.IfVersion); err != nil {
		return err
	}
	commands := maps.Clone(d.Meta.Commands) // copy on write: see Clone
	if commands == nil {
		commands = map[string]FieldMeta{}
	}
	patch := c.Desired
	if c.Cancels != "" {
		patch = map[string]any{}
		if t, ok := commands[c.Cancels]; ok && t.Status == StatusPending {
			for _, f := range t.fields() {
				if _, ok := c.Desired[f]; ok {
					patch[f] = nil
				}
			}
			t.Status, t.Fields = StatusCancelled, ""
			commands[c.Cancels] = t
		}
	}
	var fields []string
	for f, v := range patch {
		if v != nil {
			fields = append(fields, f)
		}
	}
	sort.Strings(fields)
	// A field now belongs to this command, no longer to the one before.
	for k, e := range commands {
		if e.Fields != "" {
			owned := e.fields()
			if kept := slices.DeleteFunc(slices.Clone(owned), func(f string) bool { _, ok := patch[f]; return ok }); len(kept) != len(owned) {
				e.Fields = strings.Join(kept, ",")
				commands[k] = e
			}
		}
	}
	life := m
	life.CommandLife = CommandLife{Command: c.Name, Status: StatusPending, Exp: c.Expires.Unix(), Fields: strings.Join(fields, ",")}
	commands[c.Name] = life
	fm := m
	fm.Command = c.Name
	d.Meta.Desired = d.Meta.Desired.stamp(patch, fm)
	d.Meta.Commands = commands
	d.Desired = MergePatch(d.Desired, patch).(map[string]any)
	d.Version++
	d.Delta = delta(d.Desired, d.Reported)
	return nil
}

// CheckVersion is optimistic locking of desired state (as an If-Match):
// a command decided on twin version want (0: on none in particular) may
// change the twin only while the twin is still at want. Errors are
// *signing.Rejection with ReasonStaleVersion.
func (d *Document) CheckVersion(want uint64) error {
	if want == 0 || want == d.Version {
		return nil
	}
	return signing.Reject(signing.ReasonStaleVersion, "payload.if_version",
		"the command was decided on twin version %d, but the twin is at version %d: read the twin again and decide anew", want, d.Version)
}

// ApplyAck records a device's ack (payload, accepted with meta m) against
// the command it answers, if that is still the latest command of its name
// with the ack's kid and counter; it reports whether the twin changed. An
// ack for an older command, or one that does not decode, changes nothing:
// the message itself was verified and counted.
func (d *Document) ApplyAck(payload []byte, m FieldMeta) bool {
	var a Ack
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if dec.Decode(&a) != nil || (a.Status != StatusDone && a.Status != StatusRefused) {
		return false
	}
	key := a.Command
	life, ok := d.Meta.Commands[key]
	if !ok || life.KID != a.KID || life.Ctr != a.Counter || (life.Status != StatusPending && life.Status != StatusExpired) {
		return false
	}
	ts := m.TS
	life.AckTS = &ts
	life.Reason = ""
	if a.Status == StatusRefused {
		life.Reason = a.Reason
	}
	d.settle(key, life, a.Status)
	return true
}

// ExpireCommands marks every pending command whose exp is at or before now
// as expired, withdrawing its desired fields; it reports whether the twin
// changed.
func (d *Document) ExpireCommands(now time.Time) bool {
	changed := false
	for k, life := range d.Meta.Commands {
		if life.Status == StatusPending && life.Exp != 0 && !now.Before(time.Unix(life.Exp, 0)) {
			d.settle(k, life, StatusExpired)
			changed = true
		}
	}
	return changed
}

// settle ends a command's pending life with status, withdrawing the desired
// fields it still owns.
func (d *Document) settle(name string, life FieldMeta, status string) {
	commands := maps.Clone(d.Meta.Commands) // copy on write: see Clone
	desired := maps.Clone(d.Desired)
	for _, f := range life.fields() {
		delete(desired, f)
	}
	d.Meta.Desired = d.Meta.Desired.withdraw(life.fields())
	life.Status, life.Fields = status, ""
	commands[name] = life
	d.Meta.Commands, d.Desired = commands, desired
	d.Version++
	d.Delta = delta(d.Desired, d.Reported)
}

// fields splits Fields.
func (l CommandLife) fields() []string {
	if l.Fields == "" {
		return nil
	}
	return strings.Split(l.Fields, ",")
}
