package devices

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/signet-city/signet/signing"
)

// ExportFormat names the JSON document Export writes and Import reads.
const ExportFormat = "signet-registry/1"

// Export is the portable form of a registry. It carries every key's
// high-water mark too: a registry moved to a new edge box without them would
// accept again every message the old box already accepted (SPEC §6).
type Export struct {
	Format      string      `json:"format"`
	Devices     []Device    `json:"devices"`
	Operators   []Operator  `json:"operators"`
	Authorities []Authority `json:"authorities"`
	HighWater   []HighWater `json:"high_water"`
}

// HighWater is the highest counter accepted from one key.
type HighWater struct {
	KID     []byte `json:"-"`
	Counter uint64 `json:"counter"`
}

type highWaterJSON struct {
	KID     string `json:"kid"`
	Counter uint64 `json:"counter"`
}

// MarshalJSON writes the kid in lower-case hex.
func (h HighWater) MarshalJSON() ([]byte, error) {
	return json.Marshal(highWaterJSON{KID: signing.FormatKeyID(h.KID), Counter: h.Counter})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (h *HighWater) UnmarshalJSON(b []byte) error {
	var j highWaterJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kid, err := signing.ParseKeyID(j.KID)
	if err != nil {
		return fmt.Errorf("high_water kid: %w", err)
	}
	*h = HighWater{KID: kid, Counter: j.Counter}
	return nil
}

// Export writes the whole registry and the high-water marks as indented JSON.
func (r *Registry) Export(ctx context.Context, w io.Writer) error {
	snap, err := r.store.Load(ctx)
	if err != nil {
		return err
	}
	e := Export{
		Format:      ExportFormat,
		Devices:     nonNil(snap.Devices),
		Operators:   nonNil(snap.Operators),
		Authorities: nonNil(snap.Authorities),
		HighWater:   []HighWater{},
	}
	for _, win := range snap.Windows {
		e.HighWater = append(e.HighWater, HighWater{KID: win.KID, Counter: win.HighWater})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ImportSummary counts what Import wrote.
type ImportSummary struct {
	Devices, Operators, Authorities, HighWater int
}

// Import reads an Export document, checks all of it (format, every record,
// ids and kids unique within the file and against the store), and only then
// writes everything in one transaction: on any error nothing is written.
// Import only adds; a device that is already enrolled is an error.
func (r *Registry) Import(ctx context.Context, src string, rd io.Reader) (ImportSummary, error) {
	var e Export
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return ImportSummary{}, fmt.Errorf("%s: not a registry export: %w", src, err)
	}
	if dec.More() {
		return ImportSummary{}, fmt.Errorf("%s: trailing data after the registry document", src)
	}
	if e.Format != ExportFormat {
		return ImportSummary{}, fmt.Errorf("%s: format %q, want %q", src, e.Format, ExportFormat)
	}
	b, err := importBatch(&e)
	if err != nil {
		return ImportSummary{}, fmt.Errorf("%s: %w", src, err)
	}
	if err := r.write(ctx, b); err != nil {
		return ImportSummary{}, fmt.Errorf("%s: %w (nothing was imported)", src, err)
	}
	return ImportSummary{len(e.Devices), len(e.Operators), len(e.Authorities), len(e.HighWater)}, nil
}

// importBatch validates an export and turns it into one create-only batch.
func importBatch(e *Export) (Batch, error) {
	var b Batch
	ids := map[string]bool{}
	kids := map[string]string{}
	claim := func(role OwnerRole, id string, keys []Key) error {
		if ids[string(role)+"/"+id] {
			return fmt.Errorf("%s %q appears twice", role, id)
		}
		ids[string(role)+"/"+id] = true
		for _, k := range keys {
			if holder, ok := kids[string(k.KID)]; ok {
				return fmt.Errorf("duplicate kid %s: held by %s and %s %s", signing.FormatKeyID(k.KID), holder, role, id)
			}
			kids[string(k.KID)] = string(role) + " " + id
		}
		return nil
	}
	for _, d := range e.Devices {
		d.Revision = 0
		if err := d.Validate(); err != nil {
			return b, err
		}
		if err := claim(RoleDevice, d.ID, d.Keys); err != nil {
			return b, err
		}
		b.Devices = append(b.Devices, d)
	}
	for _, o := range e.Operators {
		o.Revision = 0
		if err := o.Validate(); err != nil {
			return b, err
		}
		if err := claim(RoleOperator, o.ID, o.Keys); err != nil {
			return b, err
		}
		b.Operators = append(b.Operators, o)
	}
	for _, a := range e.Authorities {
		a.Revision = 0
		if err := a.Validate(); err != nil {
			return b, err
		}
		if err := claim(RoleAuthority, a.ID, a.Keys); err != nil {
			return b, err
		}
		b.Authorities = append(b.Authorities, a)
	}
	seen := map[string]bool{}
	for _, h := range e.HighWater {
		if _, ok := kids[string(h.KID)]; !ok {
			return b, fmt.Errorf("high_water: kid %s belongs to no key in the file", signing.FormatKeyID(h.KID))
		}
		if seen[string(h.KID)] {
			return b, fmt.Errorf("high_water: kid %s appears twice", signing.FormatKeyID(h.KID))
		}
		seen[string(h.KID)] = true
		// The mark alone: the edge resumes from it, refusing every
		// counter up to and including it (replay.Resume).
		b.Changes = append(b.Changes, Change{KID: bytes.Clone(h.KID), HighWater: h.Counter})
	}
	return b, nil
}
