package natsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// registryDoc is the value of the registry key: every record with its
// revision (devices.Device.Revision and the like are not in their JSON).
type registryDoc struct {
	Devices     map[string]record[devices.Device]    `json:"devices"`
	Operators   map[string]record[devices.Operator]  `json:"operators"`
	Authorities map[string]record[devices.Authority] `json:"authorities"`
}

type record[T any] struct {
	Rev   uint64 `json:"rev"`
	Value T      `json:"value"`
}

// readRegistry returns the registry and the KV revision it was read at
// (0: no registry written yet), from the leader (getLatest).
func (s *Store) readRegistry(ctx context.Context) (*registryDoc, uint64, error) {
	doc := &registryDoc{}
	v, rev, err := s.getLatest(ctx, RegistryBucket, registryKey)
	if err != nil {
		return nil, 0, fmt.Errorf("nats store: reading the registry: %w", err)
	}
	if v == nil {
		return doc, rev, nil
	}
	if err := json.Unmarshal(v, doc); err != nil {
		return nil, 0, fmt.Errorf("nats store: registry at revision %d: corrupt: %w", rev, err)
	}
	return doc, rev, nil
}

// Device returns one device.
func (s *Store) Device(ctx context.Context, id string) (devices.Device, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return devices.Device{}, err
	}
	r, ok := doc.Devices[id]
	if !ok {
		return devices.Device{}, fmt.Errorf("device %q: %w", id, devices.ErrNotFound)
	}
	r.Value.Revision = r.Rev
	return r.Value, nil
}

// Operator returns one operator.
func (s *Store) Operator(ctx context.Context, id string) (devices.Operator, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return devices.Operator{}, err
	}
	r, ok := doc.Operators[id]
	if !ok {
		return devices.Operator{}, fmt.Errorf("operator %q: %w", id, devices.ErrNotFound)
	}
	r.Value.Revision = r.Rev
	return r.Value, nil
}

// Authority returns one control authority.
func (s *Store) Authority(ctx context.Context, id string) (devices.Authority, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return devices.Authority{}, err
	}
	r, ok := doc.Authorities[id]
	if !ok {
		return devices.Authority{}, fmt.Errorf("authority %q: %w", id, devices.ErrNotFound)
	}
	r.Value.Revision = r.Rev
	return r.Value, nil
}

// KeyOwner says which record holds kid.
func (s *Store) KeyOwner(ctx context.Context, kid []byte) (devices.Owner, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return devices.Owner{}, err
	}
	for _, o := range doc.owners() {
		if bytes.Equal(o.kid, kid) {
			return o.owner, nil
		}
	}
	return devices.Owner{}, fmt.Errorf("kid %s: %w", signing.FormatKeyID(kid), devices.ErrNotFound)
}

type heldKID struct {
	kid   []byte
	owner devices.Owner
}

// owners lists every kid with its holder.
func (d *registryDoc) owners() []heldKID {
	var out []heldKID
	for id, r := range d.Devices {
		for _, k := range r.Value.Keys {
			out = append(out, heldKID{k.KID, devices.Owner{Role: devices.RoleDevice, ID: id}})
		}
	}
	for id, r := range d.Operators {
		for _, k := range r.Value.Keys {
			out = append(out, heldKID{k.KID, devices.Owner{Role: devices.RoleOperator, ID: id}})
		}
	}
	for id, r := range d.Authorities {
		for _, k := range r.Value.Keys {
			out = append(out, heldKID{k.KID, devices.Owner{Role: devices.RoleAuthority, ID: id}})
		}
	}
	return out
}

// Write applies a registry batch: its window changes first (a bound only
// ever grows, so writing it early refuses more, never less), then the whole
// registry by compare-and-set on its KV revision, so the batch's records
// land all together or not at all. A write that loses to another broker's
// registry write reads the registry again and checks the batch anew against
// it: a record another broker changed is then this batch's conflict.
func (s *Store) Write(ctx context.Context, b devices.Batch) error {
	if len(b.Changes) > 0 {
		if err := s.Commit(ctx, b.Changes); err != nil {
			return err
		}
	}
	return s.updateRegistry(ctx, "write", func(doc *registryDoc) error { return doc.apply(b) })
}

// updateRegistry changes the registry by compare-and-set on its KV
// revision: it reads the registry, lets change edit it (an error from
// change ends the update), and writes it back only if no other broker wrote
// since; if one did, it reads again and asks change anew, so change always
// judges the registry it edits. what names the update in the conflict error.
func (s *Store) updateRegistry(ctx context.Context, what string, change func(*registryDoc) error) error {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
		doc, rev, err := s.readRegistry(ctx)
		if err != nil {
			return err
		}
		if err := change(doc); err != nil {
			return err
		}
		data, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("nats store: encoding the registry: %w", err)
		}
		rctx, cancel := s.request(ctx)
		if rev == 0 {
			_, err = s.registry.Create(rctx, registryKey, data)
		} else {
			_, err = s.registry.Update(rctx, registryKey, data, rev)
		}
		cancel()
		if casLost(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("nats store: writing the registry: %w", err)
		}
		return nil
	}
	return &devices.ConflictError{Msg: "the registry kept changing under this " + what + " (other brokers writing); try again"}
}

// apply checks b against d and applies it: each record only at its stored
// revision (0: only if absent), and every kid held by one record at most.
func (d *registryDoc) apply(b devices.Batch) error {
	if d.Devices == nil {
		d.Devices = map[string]record[devices.Device]{}
	}
	if d.Operators == nil {
		d.Operators = map[string]record[devices.Operator]{}
	}
	if d.Authorities == nil {
		d.Authorities = map[string]record[devices.Authority]{}
	}
	for _, v := range b.Devices {
		if err := put(d.Devices, "device", v.ID, v.Revision, v); err != nil {
			return err
		}
	}
	for _, v := range b.Operators {
		if err := put(d.Operators, "operator", v.ID, v.Revision, v); err != nil {
			return err
		}
	}
	for _, v := range b.Authorities {
		if err := put(d.Authorities, "authority", v.ID, v.Revision, v); err != nil {
			return err
		}
	}
	return d.checkKIDs(b)
}

func put[T any](m map[string]record[T], noun, id string, rev uint64, v T) error {
	old, exists := m[id]
	if exists && rev == 0 {
		return &devices.ConflictError{Msg: fmt.Sprintf("%s %q is already enrolled", noun, id)}
	}
	if old.Rev != rev {
		return &devices.ConflictError{Msg: fmt.Sprintf("%s %q changed since it was read (revision %d, now %d); try again", noun, id, rev, old.Rev)}
	}
	m[id] = record[T]{Rev: rev + 1, Value: v}
	return nil
}

// checkKIDs refuses a kid held by two records (SPEC §4 step 4 finds the
// signer by kid alone), naming the holder that the batch did not write
// when there is one.
func (d *registryDoc) checkKIDs(b devices.Batch) error {
	written := map[devices.Owner]bool{}
	for _, v := range b.Devices {
		written[devices.Owner{Role: devices.RoleDevice, ID: v.ID}] = true
	}
	for _, v := range b.Operators {
		written[devices.Owner{Role: devices.RoleOperator, ID: v.ID}] = true
	}
	for _, v := range b.Authorities {
		written[devices.Owner{Role: devices.RoleAuthority, ID: v.ID}] = true
	}
	held := map[string]devices.Owner{}
	var fromBatch []heldKID
	for _, o := range d.owners() {
		if written[o.owner] {
			fromBatch = append(fromBatch, o)
			continue
		}
		held[string(o.kid)] = o.owner
	}
	for _, o := range fromBatch {
		if holder, ok := held[string(o.kid)]; ok && holder != o.owner {
			return &devices.DuplicateKIDError{KID: o.kid, Owner: holder}
		}
		held[string(o.kid)] = o.owner
	}
	return nil
}

// WatchRegistry calls changed after every registry write that reaches this
// store, its own and other brokers', until ctx ends. It also calls changed
// once as soon as the watch is in place, for a write made between the
// caller's Load and the watch. The watch survives reconnects: it resumes
// after the last write it delivered.
func (s *Store) WatchRegistry(ctx context.Context, changed func()) {
	for ctx.Err() == nil {
		w, err := s.registry.Watch(ctx, registryKey, jetstream.UpdatesOnly())
		if err != nil {
			s.log.Warn("watching the registry; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(s.timeout):
			}
			continue
		}
		changed()
		for e := range w.Updates() {
			if e != nil {
				changed()
			}
		}
		w.Stop()
	}
}
