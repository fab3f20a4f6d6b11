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
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/signet-city/signet/signing"
)

// Document is the twin of SPEC §7.
type Document struct {
	Device   string               `json:"device"`
	Zone     string               `json:"zone"`
	Kind     string               `json:"kind"`
	Version  uint64               `json:"version"` // +1 on every accepted change
	Reported map[string]any       `json:"reported"`
	Desired  map[string]any       `json:"desired"`
	Delta    map[string]any       `json:"delta"`
	Meta     map[string]FieldMeta `json:"meta"`
	Security Security             `json:"security"`
}

// FieldMeta says which signed message last set a top-level field. Under a
// command's key ("cmd/" + name, see command.go) it also follows that
// command's life: the Command* members are set only there.
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
		Meta: map[string]FieldMeta{}, Security: Security{Rejected: map[string]uint64{}},
	}
}

// Parse decodes a stored twin.
func Parse(b []byte) (*Document, error) {
	d := New("", "", "")
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("twin document: %w", err)
	}
	for _, m := range []*map[string]any{&d.Reported, &d.Desired, &d.Delta} {
		if *m == nil {
			*m = map[string]any{}
		}
	}
	if d.Meta == nil {
		d.Meta = map[string]FieldMeta{}
	}
	if d.Security.Rejected == nil {
		d.Security.Rejected = map[string]uint64{}
	}
	return d, nil
}

// MarshalJSON encodes the document as SPEC §7 shows it.
func (d *Document) MarshalJSON() ([]byte, error) {
	type plain Document // no MarshalJSON: no recursion
	return json.Marshal((*plain)(d))
}

// Clone returns a copy that shares d's maps. A Document's maps are never
// modified once it exists: the Apply and Record methods replace a map they
// change (MergePatch copies the changed path, touch and RecordRejection copy
// before writing), so the copy and d stay independent. Cloning on every
// accepted message is then cheap: telemetry changes only the counters.
func (d *Document) Clone() *Document {
	c := *d
	return &c
}

// ApplyReported merges a state message's patch (RFC 7396) into reported.
// validate, if not nil, sees the reported state before and after and may
// refuse the change (SPEC §4 step 10); on any error d is unchanged.
func (d *Document) ApplyReported(patch []byte, m FieldMeta, validate func(prev, next map[string]any) error) error {
	p, err := decodePatch(patch)
	if err != nil {
		return err
	}
	next := MergePatch(d.Reported, p).(map[string]any)
	if validate != nil {
		if err := validate(d.Reported, next); err != nil {
			return err
		}
	}
	d.Reported = next
	d.touch(p, m)
	return nil
}

// ApplyDesired merges a verified command's patch into desired.
func (d *Document) ApplyDesired(patch []byte, m FieldMeta) error {
	p, err := decodePatch(patch)
	if err != nil {
		return err
	}
	d.Desired = MergePatch(d.Desired, p).(map[string]any)
	d.touch(p, m)
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

// touch bumps the version, records provenance of the patched top-level
// fields and recomputes the delta.
func (d *Document) touch(p map[string]any, m FieldMeta) {
	d.Version++
	meta := maps.Clone(d.Meta) // copy on write: see Clone
	if meta == nil {
		meta = map[string]FieldMeta{}
	}
	for k := range p {
		meta[k] = m
	}
	d.Meta = meta
	d.Delta = delta(d.Desired, d.Reported)
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

func decodePatch(patch []byte) (map[string]any, error) {
	var p map[string]any
	dec := json.NewDecoder(bytes.NewReader(patch))
	if err := dec.Decode(&p); err != nil || p == nil || dec.More() {
		return nil, signing.Reject(signing.ReasonInvalidState, "payload", "must be one JSON object (an RFC 7396 merge patch)")
	}
	return p, nil
}
