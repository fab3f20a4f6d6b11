package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
	bolt "go.etcd.io/bbolt"
)

// record is how a registry entry is stored: its revision beside its JSON, so
// that writes can compare-and-set (devices.Store.Write).
type record[T any] struct {
	Rev   uint64 `json:"rev"`
	Value T      `json:"value"`
}

// ownerRecord is the value of keys-by-kid.
type ownerRecord struct {
	Role devices.OwnerRole `json:"role"`
	ID   string            `json:"id"`
}

func get[T any](tx *bolt.Tx, bucket []byte, id string) (T, uint64, error) {
	var r record[T]
	v := tx.Bucket(bucket).Get([]byte(id))
	if v == nil {
		return r.Value, 0, fmt.Errorf("%s %q: %w", bucketNoun(bucket), id, devices.ErrNotFound)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r.Value, 0, fmt.Errorf("%s %q: corrupt record: %w", bucketNoun(bucket), id, err)
	}
	return r.Value, r.Rev, nil
}

func bucketNoun(b []byte) string {
	switch string(b) {
	case string(bucketDevices):
		return "device"
	case string(bucketOperators):
		return "operator"
	case string(bucketAuthorities):
		return "authority"
	}
	return string(b)
}

// Device returns one device.
func (s *Store) Device(ctx context.Context, id string) (devices.Device, error) {
	var d devices.Device
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		d, d.Revision, err = get[devices.Device](tx, bucketDevices, id)
		return err
	})
	return d, err
}

// Operator returns one operator.
func (s *Store) Operator(ctx context.Context, id string) (devices.Operator, error) {
	var o devices.Operator
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		o, o.Revision, err = get[devices.Operator](tx, bucketOperators, id)
		return err
	})
	return o, err
}

// Authority returns one control authority.
func (s *Store) Authority(ctx context.Context, id string) (devices.Authority, error) {
	var a devices.Authority
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		a, a.Revision, err = get[devices.Authority](tx, bucketAuthorities, id)
		return err
	})
	return a, err
}

// KeyOwner says which record holds kid.
func (s *Store) KeyOwner(ctx context.Context, kid []byte) (devices.Owner, error) {
	var o devices.Owner
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketKIDs).Get(kid)
		if v == nil {
			return fmt.Errorf("kid %s: %w", signing.FormatKeyID(kid), devices.ErrNotFound)
		}
		var r ownerRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("kid %s: corrupt index entry: %w", signing.FormatKeyID(kid), err)
		}
		o = devices.Owner{Role: r.Role, ID: r.ID}
		return nil
	})
	return o, err
}

// Write applies a registry batch in one transaction.
func (s *Store) Write(ctx context.Context, b devices.Batch) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		for _, d := range b.Devices {
			if err := put(tx, bucketDevices, devices.RoleDevice, d.ID, d.Revision, d.Keys, d); err != nil {
				return err
			}
		}
		for _, o := range b.Operators {
			if err := put(tx, bucketOperators, devices.RoleOperator, o.ID, o.Revision, o.Keys, o); err != nil {
				return err
			}
		}
		for _, a := range b.Authorities {
			if err := put(tx, bucketAuthorities, devices.RoleAuthority, a.ID, a.Revision, a.Keys, a); err != nil {
				return err
			}
		}
		return applyChanges(tx, b.Changes)
	})
}

// put writes one record if its stored revision is rev, and keeps the kid
// index in step: new kids must be free, dropped kids are released.
func put[T any](tx *bolt.Tx, bucket []byte, role devices.OwnerRole, id string, rev uint64, keys []devices.Key, value T) error {
	noun := bucketNoun(bucket)
	bk := tx.Bucket(bucket)
	var old record[struct {
		Keys []devices.Key `json:"keys"`
	}]
	if v := bk.Get([]byte(id)); v != nil {
		if err := json.Unmarshal(v, &old); err != nil {
			return fmt.Errorf("%s %q: corrupt record: %w", noun, id, err)
		}
		if rev == 0 {
			return &devices.ConflictError{Msg: fmt.Sprintf("%s %q is already enrolled", noun, id)}
		}
	}
	if old.Rev != rev {
		return &devices.ConflictError{Msg: fmt.Sprintf("%s %q changed since it was read (revision %d, now %d); try again", noun, id, rev, old.Rev)}
	}
	me, err := json.Marshal(ownerRecord{Role: role, ID: id})
	if err != nil {
		return err
	}
	kids := tx.Bucket(bucketKIDs)
	for _, k := range keys {
		v := kids.Get(k.KID)
		if v == nil {
			if err := kids.Put(k.KID, me); err != nil {
				return err
			}
			continue
		}
		if !bytes.Equal(v, me) {
			var holder ownerRecord
			if err := json.Unmarshal(v, &holder); err != nil {
				return fmt.Errorf("kid %s: corrupt index entry: %w", signing.FormatKeyID(k.KID), err)
			}
			return &devices.DuplicateKIDError{KID: k.KID, Owner: devices.Owner{Role: holder.Role, ID: holder.ID}}
		}
	}
	for _, k := range old.Value.Keys {
		if !hasKID(keys, k.KID) {
			if err := kids.Delete(k.KID); err != nil {
				return err
			}
		}
	}
	data, err := json.Marshal(record[T]{Rev: rev + 1, Value: value})
	if err != nil {
		return fmt.Errorf("%s %q: %w", noun, id, err)
	}
	return bk.Put([]byte(id), data)
}

func hasKID(keys []devices.Key, kid []byte) bool {
	for _, k := range keys {
		if bytes.Equal(k.KID, kid) {
			return true
		}
	}
	return false
}
