package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
	bolt "go.etcd.io/bbolt"
)

// Commit makes a group of window and twin changes durable in one transaction
// (one fsync, whatever the group's size).
func (s *Store) Commit(ctx context.Context, changes []devices.Change) error {
	return s.update(ctx, func(tx *bolt.Tx) error { return applyChanges(tx, changes) })
}

// applyChanges writes changes in order (a window record is the 8-byte
// big-endian bound, then the window's state if there is one), so that of
// two changes to one key or twin, the later one stays.
func applyChanges(tx *bolt.Tx, changes []devices.Change) error {
	windows, twins := tx.Bucket(bucketWindows), tx.Bucket(bucketTwins)
	for _, c := range changes {
		if c.KID != nil {
			if old := windows.Get(c.KID); len(old) >= 8 && binary.BigEndian.Uint64(old) > c.HighWater {
				// A key's bound never goes down: every counter below it
				// was leased once. Only a second writer could ask for that.
				return &devices.ConflictError{Msg: fmt.Sprintf("kid %s: counter bound would go down from %d to %d (a second writer on this store?)",
					signing.FormatKeyID(c.KID), binary.BigEndian.Uint64(old), c.HighWater)}
			}
			v := make([]byte, 8+len(c.Window))
			binary.BigEndian.PutUint64(v, c.HighWater)
			copy(v[8:], c.Window)
			if err := windows.Put(c.KID, v); err != nil {
				return err
			}
		}
		if c.Twin != nil {
			if err := twins.Put([]byte(c.Device), c.Twin); err != nil {
				return err
			}
		}
	}
	return nil
}

// Load reads the whole store in one read transaction, so the snapshot is
// consistent.
func (s *Store) Load(ctx context.Context) (*devices.Snapshot, error) {
	snap := &devices.Snapshot{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if err := each(tx, bucketDevices, func(d devices.Device, rev uint64) {
			d.Revision = rev
			snap.Devices = append(snap.Devices, d)
		}); err != nil {
			return err
		}
		if err := each(tx, bucketOperators, func(o devices.Operator, rev uint64) {
			o.Revision = rev
			snap.Operators = append(snap.Operators, o)
		}); err != nil {
			return err
		}
		if err := each(tx, bucketAuthorities, func(a devices.Authority, rev uint64) {
			a.Revision = rev
			snap.Authorities = append(snap.Authorities, a)
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketWindows).ForEach(func(k, v []byte) error {
			if len(v) < 8 {
				return fmt.Errorf("window of kid %s: corrupt (%d bytes)", signing.FormatKeyID(k), len(v))
			}
			w := devices.Window{KID: clone(k), HighWater: binary.BigEndian.Uint64(v)}
			if len(v) > 8 {
				w.State = clone(v[8:])
			}
			snap.Windows = append(snap.Windows, w)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketTwins).ForEach(func(k, v []byte) error {
			snap.Twins = append(snap.Twins, devices.Twin{Device: string(k), Doc: clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.path, err)
	}
	return snap, nil
}

func each[T any](tx *bolt.Tx, bucket []byte, fn func(T, uint64)) error {
	return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		var r record[T]
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("%s %q: corrupt record: %w", bucketNoun(bucket), k, err)
		}
		fn(r.Value, r.Rev)
		return nil
	})
}

// clone copies bytes out of bbolt's memory map, which is only valid inside
// the transaction.
func clone(b []byte) []byte { return append([]byte(nil), b...) }
