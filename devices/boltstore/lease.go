package boltstore

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
	bolt "go.etcd.io/bbolt"
)

// ExtendLeases writes changes, then every extension whose From matches the
// stored bound, in one transaction (one fsync). A mismatch is that
// extension's *devices.LeaseConflictError, not a failure of the call: the
// rest is written all the same.
func (s *Store) ExtendLeases(ctx context.Context, leases []devices.LeaseExtension, changes []devices.Change) ([]error, error) {
	results := make([]error, len(leases))
	err := s.update(ctx, func(tx *bolt.Tx) error {
		// Changes first: a window saved at a clean stop, then a lease over
		// it in the same round, must end as the lease.
		if err := applyChanges(tx, changes); err != nil {
			return err
		}
		windows := tx.Bucket(bucketWindows)
		for i, l := range leases {
			if l.To <= l.From {
				return fmt.Errorf("kid %s: lease from %d to %d does not grow", signing.FormatKeyID(l.KID), l.From, l.To)
			}
			var stored uint64
			if old := windows.Get(l.KID); old != nil {
				if len(old) < 8 {
					return fmt.Errorf("window of kid %s: corrupt (%d bytes)", signing.FormatKeyID(l.KID), len(old))
				}
				stored = binary.BigEndian.Uint64(old)
			}
			if stored != l.From {
				results[i] = &devices.LeaseConflictError{KID: clone(l.KID), From: l.From, Stored: stored}
				continue
			}
			// The bound alone: a window saved at a clean stop is dropped,
			// since it would accept again what is accepted under this lease.
			if err := windows.Put(l.KID, binary.BigEndian.AppendUint64(nil, l.To)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store %s: extending leases: %w", s.path, err)
	}
	return results, nil
}
