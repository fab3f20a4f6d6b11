// Package twin is a device's digital twin document (SPEC §7): what the device
// reported in verified state messages, what verified commands desire, the
// difference between the two, per-field provenance, and security counters.
//
// A Document is a value that its owner changes under a lock and copies before
// handing out (Clone); every Apply method leaves it unchanged on error.
package twin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

// Document is the twin of SPEC §7.
type Document struct {
	Device   string         `json:"device"`
	Zone     string         `json:"zone"`
	Kind     string         `json:"kind"`
	Version  uint64         `json:"version"` // +1 on every accepted change
	Reported map[string]any `json:"reported"`
	Desired  map[string]any `json:"desired"`
	Delta    map[string]any `json:"delta"`
	Meta     Meta           `json:"meta"`
	Security Security       `json:"security"`

	enc *encoded // its parts' encodings, from its last change (encode.go)
}

// FieldMeta says which signed message last set a leaf of reported or
// desired (a desired leaf also names its command, Command). In
// Meta.Commands it also follows that command's life (see command.go).
type FieldMeta struct {
	TS  time.Time `json:"ts"`
	KID string    `json:"kid"` // hex
	Ctr uint64    `json:"ctr"`
	CommandLife
}

// Security counts what the broker decided about the device's messages.
type Security struct {
	LastCtr  uint64            `json:"last_ctr"`
	Accepted uint64            `json:"accepted"`
	Rejected map[string]uint64 `json:"rejected"`
}

// New returns the empty twin of a device.
func New(device, zone, kind string) *Document {
	return &Document{
		Device: device, Zone: zone, Kind: kind,
		Reported: map[string]any{}, Desired: map[string]any{}, Delta: map[string]any{},
		Meta: newMeta(), Security: Security{Rejected: map[string]uint64{}},
	}
}

// Parse decodes a stored twin, of the current shape or of the one before
// provenance was kept per leaf (migrate.go).
func Parse(b []byte) (*Document, error) {
	type plain Document // no UnmarshalJSON of its own
	var stored struct {
		*plain
		Meta json.RawMessage `json:"meta"`
	}
	d := New("", "", "")
	stored.plain = (*plain)(d)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&stored); err != nil {
		return nil, fmt.Errorf("twin document: %w", err)
	}
	for _, m := range []*map[string]any{&d.Reported, &d.Desired, &d.Delta} {
		if *m == nil {
			*m = map[string]any{}
		}
	}
	meta, err := decodeMeta(stored.Meta, d.Reported, d.Desired)
	if err != nil {
		return nil, fmt.Errorf("twin document: %w", err)
	}
	d.Meta = meta
	if d.Security.Rejected == nil {
		d.Security.Rejected = map[string]uint64{}
	}
	return d, nil
}

// Clone returns a copy that shares d's maps. A Document's maps are never
// modified once it exists: the Apply and Record methods replace a map they
// change (MergePatch and Provenance.stamp copy the changed path, RecordRejection copies
// before writing), so the copy and d stay independent. Cloning on every
// accepted message is then cheap: telemetry changes only the counters.
func (d *Document) Clone() *Document {
	c := *d
	return &c
}

// DefaultMaxBytes bounds an encoded twin document when Rules give no bound:
// room for any profile's full state with its provenance, small enough that
// a device cannot grow its twin, and the store, without limit.
const DefaultMaxBytes = 32 << 10

// Rules are what a change must satisfy besides being one JSON object (an RFC
// 7396 merge patch). The zero value applies the default bounds only.
type Rules struct {
	// MaxDepth bounds the patch's nesting (≤ 0: strictjson.DefaultMaxDepth).
	MaxDepth int
	// MaxBytes bounds the encoded document after the change (≤ 0:
	// DefaultMaxBytes); a change that would pass it is refused.
	MaxBytes int
	// Patch, if not nil, checks the patch itself before it is merged: a
	// member that deletes (null) leaves no trace in the merged state, so
	// only the patch shows it (kinds.ValidatePatch).
	Patch func(patch map[string]any) error
	// Validate, if not nil, sees the state before and after the merge and
	// may refuse the change (SPEC §4 step 10).
	Validate func(prev, next map[string]any) error
}

// ApplyReported merges a state message's patch (RFC 7396) into reported
// under the default bounds. validate, if not nil, sees the reported state
// before and after and may refuse the change (SPEC §4 step 10); on any
// error d is unchanged.
func (d *Document) ApplyReported(patch []byte, m FieldMeta, validate func(prev, next map[string]any) error) error {
	return d.ApplyReportedWith(patch, m, Rules{Validate: validate})
}

// ApplyReportedWith merges a state message's patch into reported under r;
// on any error d is unchanged.
func (d *Document) ApplyReportedWith(patch []byte, m FieldMeta, r Rules) error {
	p, err := r.decode(patch)
	if err != nil {
		return err
	}
	next := *d
	next.Reported = MergePatch(d.Reported, p).(map[string]any)
	if r.Validate != nil {
		if err := r.Validate(d.Reported, next.Reported); err != nil {
			return err
		}
	}
	next.Meta.Reported = d.Meta.Reported.stamp(p, m)
	return d.commit(&next, r)
}

// ApplyDesired merges a verified command's patch into desired under the
// default bounds; on any error d is unchanged.
func (d *Document) ApplyDesired(patch []byte, m FieldMeta) error {
	return d.ApplyDesiredWith(patch, m, Rules{})
}

// ApplyDesiredWith merges a verified command's patch into desired under r
// (r.Validate sees desired before and after); on any error d is unchanged.
func (d *Document) ApplyDesiredWith(patch []byte, m FieldMeta, r Rules) error {
	p, err := r.decode(patch)
	if err != nil {
		return err
	}
	next := *d
	next.Desired = MergePatch(d.Desired, p).(map[string]any)
	if r.Validate != nil {
		if err := r.Validate(d.Desired, next.Desired); err != nil {
			return err
		}
	}
	next.Meta.Desired = d.Meta.Desired.stamp(p, m)
	return d.commit(&next, r)
}

// decode parses and checks a patch.
func (r Rules) decode(patch []byte) (map[string]any, error) {
	p, err := strictjson.DecodeObject(patch, r.MaxDepth)
	if err != nil {
		var e *strictjson.Error
		field := "payload"
		if errors.As(err, &e) && e.Path != "" {
			field = e.Path
		}
		return nil, &signing.Rejection{Reason: signing.ReasonInvalidState, Field: field,
			Err: fmt.Errorf("must be one strict JSON object (an RFC 7396 merge patch): %w", err)}
	}
	if r.Patch != nil {
		if err := r.Patch(p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// commit finishes a change prepared in next (a shallow copy of d, its
// provenance recorded): it bumps the version, recomputes the delta and, if
// the result fits r.MaxBytes, makes it d.
func (d *Document) commit(next *Document, r Rules) error {
	next.Version++
	next.Delta = delta(next.Desired, next.Reported)
	limit := r.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	// The parts encoded here for the size check are the ones the store and
	// the twin's topics then write (encode.go).
	p, err := next.encodeParts()
	if err != nil {
		return fmt.Errorf("twin document: %w", err)
	}
	size, err := next.size(p)
	if err != nil {
		return fmt.Errorf("twin document: %w", err)
	}
	if size > limit {
		return signing.Reject(signing.ReasonInvalidState, "twin", "the twin document would be %d bytes, over its limit of %d", size, limit)
	}
	next.remember(p)
	*d = *next
	return nil
}

// RecordAccepted counts one accepted message with counter ctr.
func (d *Document) RecordAccepted(ctr uint64) {
	d.Security.Accepted++
	d.Security.LastCtr = max(d.Security.LastCtr, ctr)
}

// RecordRejection counts one rejected message.
func (d *Document) RecordRejection(reason signing.Reason) {
	rejected := maps.Clone(d.Security.Rejected) // copy on write: see Clone
	if rejected == nil {
		rejected = map[string]uint64{}
	}
	rejected[string(reason)]++
	d.Security.Rejected = rejected
}

// delta returns the desired fields whose values reported does not match,
// recursing into objects so that only the differing leaves remain.
func delta(desired, reported map[string]any) map[string]any {
	out := map[string]any{}
	for k, want := range desired {
		have, ok := reported[k]
		wm, wIsMap := want.(map[string]any)
		hm, hIsMap := have.(map[string]any)
		switch {
		case wIsMap && hIsMap:
			if sub := delta(wm, hm); len(sub) > 0 {
				out[k] = sub
			}
		case !ok || !reflect.DeepEqual(want, have):
			out[k] = want
		}
	}
	return out
}
