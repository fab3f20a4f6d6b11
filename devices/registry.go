package devices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-city/signet/signing"
)

// Registry is the administrative face of a Store: enrol, list, revoke and
// rotate, each validated in full before anything is written, and each one
// transaction. The CLI uses it; a broker holding the same Store would too.
type Registry struct {
	store Store
	now   func() time.Time
}

// NewRegistry returns a Registry over s. now is the clock for rotation
// deadlines (nil: time.Now).
func NewRegistry(s Store, now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{store: s, now: now}
}

// Enroll registers a new device. The id must be new and every kid unused.
func (r *Registry) Enroll(ctx context.Context, d Device) error {
	d.Revision = 0
	if err := d.Validate(); err != nil {
		return err
	}
	return r.write(ctx, Batch{Devices: []Device{d}})
}

// Device returns one device by id.
func (r *Registry) Device(ctx context.Context, id string) (Device, error) {
	d, err := r.store.Device(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return d, fmt.Errorf("unknown device %q (see signet device list)", id)
	}
	return d, err
}

// Devices lists the devices of one zone, or of all zones when zone is "".
func (r *Registry) Devices(ctx context.Context, zone string) ([]Device, error) {
	snap, err := r.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	if zone == "" {
		return snap.Devices, nil
	}
	var out []Device
	for _, d := range snap.Devices {
		if d.Zone == zone {
			out = append(out, d)
		}
	}
	return out, nil
}

// RevokeDevice revokes every key of a device: it stays registered, with its
// twin, but nothing it signs is accepted any more (SPEC §4 step 4).
func (r *Registry) RevokeDevice(ctx context.Context, id string) (Device, error) {
	d, err := r.Device(ctx, id)
	if err != nil {
		return d, err
	}
	for i := range d.Keys {
		d.Keys[i].Status = StatusRevoked
	}
	return d, r.write(ctx, Batch{Devices: []Device{d}})
}

// RevokeKey revokes one key, whoever holds it.
func (r *Registry) RevokeKey(ctx context.Context, kid []byte) (Owner, error) {
	owner, err := r.store.KeyOwner(ctx, kid)
	if errors.Is(err, ErrNotFound) {
		return owner, fmt.Errorf("unknown kid %s (see signet device show)", signing.FormatKeyID(kid))
	}
	if err != nil {
		return owner, err
	}
	revoke := func(keys []Key) {
		for i := range keys {
			if bytes.Equal(keys[i].KID, kid) {
				keys[i].Status = StatusRevoked
			}
		}
	}
	switch owner.Role {
	case RoleDevice:
		d, err := r.store.Device(ctx, owner.ID)
		if err != nil {
			return owner, err
		}
		revoke(d.Keys)
		return owner, r.write(ctx, Batch{Devices: []Device{d}})
	case RoleOperator:
		o, err := r.store.Operator(ctx, owner.ID)
		if err != nil {
			return owner, err
		}
		revoke(o.Keys)
		return owner, r.write(ctx, Batch{Operators: []Operator{o}})
	case RoleAuthority:
		a, err := r.store.Authority(ctx, owner.ID)
		if err != nil {
			return owner, err
		}
		revoke(a.Keys)
		return owner, r.write(ctx, Batch{Authorities: []Authority{a}})
	}
	return owner, fmt.Errorf("kid %s: index names unknown role %q", signing.FormatKeyID(kid), owner.Role)
}

// Rotate adds a new key to a device and lets its other usable keys sign
// only until now+grace; from then on they are refused as revoked. A grace of
// zero ends them at once. Keys with an earlier end keep it.
func (r *Registry) Rotate(ctx context.Context, id string, key Key, grace time.Duration) (Device, error) {
	if grace < 0 {
		return Device{}, fmt.Errorf("grace %v: must not be negative", grace)
	}
	d, err := r.Device(ctx, id)
	if err != nil {
		return d, err
	}
	for _, k := range d.Keys {
		if bytes.Equal(k.KID, key.KID) {
			return d, fmt.Errorf("device %s already holds key %s", id, signing.FormatKeyID(key.KID))
		}
	}
	now := r.now()
	end := now.Add(grace).UTC()
	for i := range d.Keys {
		k := &d.Keys[i]
		if k.Usable(now) && (k.NotAfter.IsZero() || k.NotAfter.After(end)) {
			k.NotAfter = end
		}
	}
	key.Status = StatusActive
	d.Keys = append(d.Keys, key)
	if err := d.Validate(); err != nil {
		return d, err
	}
	return d, r.write(ctx, Batch{Devices: []Device{d}})
}

// EnrollOperator registers a new operator.
func (r *Registry) EnrollOperator(ctx context.Context, o Operator) error {
	o.Revision = 0
	if err := o.Validate(); err != nil {
		return err
	}
	return r.write(ctx, Batch{Operators: []Operator{o}})
}

// Operator returns one operator by id.
func (r *Registry) Operator(ctx context.Context, id string) (Operator, error) {
	o, err := r.store.Operator(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return o, fmt.Errorf("unknown operator %q (see signet operator list)", id)
	}
	return o, err
}

// Operators lists every operator.
func (r *Registry) Operators(ctx context.Context) ([]Operator, error) {
	snap, err := r.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Operators, nil
}

// RevokeOperator revokes every key of an operator.
func (r *Registry) RevokeOperator(ctx context.Context, id string) (Operator, error) {
	o, err := r.Operator(ctx, id)
	if err != nil {
		return o, err
	}
	for i := range o.Keys {
		o.Keys[i].Status = StatusRevoked
	}
	return o, r.write(ctx, Batch{Operators: []Operator{o}})
}

// AddAuthorityKey adds a key to a control authority, creating the authority
// if it is new. Several keys let an authority roll its key over while
// devices flashed with the old one are still in the field.
func (r *Registry) AddAuthorityKey(ctx context.Context, id string, key Key) (Authority, error) {
	a, err := r.store.Authority(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		a = Authority{ID: id}
	case err != nil:
		return a, err
	}
	key.Status = StatusActive
	a.Keys = append(a.Keys, key)
	if err := a.Validate(); err != nil {
		return a, err
	}
	return a, r.write(ctx, Batch{Authorities: []Authority{a}})
}

// Authorities lists every control authority.
func (r *Registry) Authorities(ctx context.Context) ([]Authority, error) {
	snap, err := r.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	return snap.Authorities, nil
}

// write applies b and turns store conflicts into user-facing sentences.
func (r *Registry) write(ctx context.Context, b Batch) error {
	err := r.store.Write(ctx, b)
	var dup *DuplicateKIDError
	if errors.As(err, &dup) {
		return fmt.Errorf("%w; every kid must be unique, generate a new key", dup)
	}
	return err
}
