package natsstore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// leaseKey is a kid's key in the leases bucket (hex: KV keys allow no
// arbitrary bytes).
func leaseKey(kid []byte) string { return hex.EncodeToString(kid) }

// readLease returns a key's stored bound, its window state (if saved at a
// clean stop) and the KV revision (0: no record), from the leader.
func (s *Store) readLease(ctx context.Context, kid []byte) (bound uint64, state []byte, rev uint64, err error) {
	v, rev, err := s.getLatest(ctx, LeasesBucket, leaseKey(kid))
	switch {
	case err != nil:
		return 0, nil, 0, fmt.Errorf("nats store: lease of kid %s: %w", signing.FormatKeyID(kid), err)
	case v == nil:
		return 0, nil, rev, nil
	case len(v) < 8:
		return 0, nil, 0, fmt.Errorf("nats store: lease of kid %s: corrupt (%d bytes)", signing.FormatKeyID(kid), len(v))
	}
	return binary.BigEndian.Uint64(v), v[8:], rev, nil
}

// writeLease stores value for kid at KV revision rev (0: only if absent)
// and reports false when another writer got there first.
func (s *Store) writeLease(ctx context.Context, kid []byte, bound, rev uint64, value []byte) (bool, error) {
	ctx, cancel := s.request(ctx)
	defer cancel()
	var next uint64
	var err error
	if rev == 0 {
		next, err = s.leases.Create(ctx, leaseKey(kid), value)
	} else {
		next, err = s.leases.Update(ctx, leaseKey(kid), value, rev)
	}
	if casLost(err) {
		s.revs.Delete(leaseKey(kid))
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("nats store: lease of kid %s: %w", signing.FormatKeyID(kid), err)
	}
	s.revs.Store(leaseKey(kid), leaseRev{bound: bound, rev: next})
	return true, nil
}

// ExtendLeases writes changes, then every extension whose From is the bound
// stored now, each by compare-and-set on its key's KV revision: of two
// brokers extending one key from the same bound, JetStream applies exactly
// one, and the other learns the bound it wrote (SPEC §6). A write is
// acknowledged by JetStream only once a majority of the replicas hold it,
// so an applied extension survives the loss of any minority of the NATS
// nodes. A mismatch is that extension's *devices.LeaseConflictError; the
// others are written all the same. While NATS cannot be reached the call
// waits for it, up to Options.Outage.
func (s *Store) ExtendLeases(ctx context.Context, leases []devices.LeaseExtension, changes []devices.Change) ([]error, error) {
	for _, l := range leases {
		if l.To <= l.From {
			return nil, fmt.Errorf("kid %s: lease from %d to %d does not grow", signing.FormatKeyID(l.KID), l.From, l.To)
		}
	}
	// Twins another broker changed are refused, the rest written; the
	// leases are taken all the same, and the refusal returned beside them
	// (devices.TwinConflictError).
	var conflicts error
	if len(changes) > 0 {
		if err := s.Commit(ctx, changes); err != nil {
			c, other := splitConflicts(err)
			if other != nil {
				return nil, err
			}
			conflicts = c
		}
	}
	results := make([]error, len(leases))
	err := s.ride(ctx, "extending leases", func() error {
		return parallel(len(leases), func(i int) error {
			var err error
			results[i], err = s.extend(ctx, leases[i])
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("extending leases: %w", err)
	}
	return results, conflicts
}

// extend takes one lease: nil, or the conflict naming the bound found.
func (s *Store) extend(ctx context.Context, l devices.LeaseExtension) (refused error, err error) {
	value := binary.BigEndian.AppendUint64(nil, l.To) // the bound alone: a saved window is dropped
	// The revision this store last wrote or read, when its bound is From:
	// one round trip. A stale one merely loses the compare-and-set.
	if c, ok := s.revs.Load(leaseKey(l.KID)); ok && c.(leaseRev).bound == l.From && l.From != 0 {
		won, err := s.writeLease(ctx, l.KID, l.To, c.(leaseRev).rev, value)
		if err != nil || won {
			return nil, err
		}
	}
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
		stored, _, rev, err := s.readLease(ctx, l.KID)
		if err != nil {
			return nil, err
		}
		if stored != l.From {
			s.revs.Store(leaseKey(l.KID), leaseRev{bound: stored, rev: rev})
			return &devices.LeaseConflictError{KID: append([]byte(nil), l.KID...), From: l.From, Stored: stored}, nil
		}
		won, err := s.writeLease(ctx, l.KID, l.To, rev, value)
		if err != nil || won {
			return nil, err
		}
	}
	return nil, fmt.Errorf("kid %s: its lease kept changing under %d attempts", signing.FormatKeyID(l.KID), maxCASAttempts)
}

// checkWindow reads a key's record and refuses a Change that would lower
// its bound: every counter below the stored bound was leased once, so only
// a second writer could ask for that. There is one exception, which a
// store shared by several brokers must make: a replay window saved at a
// clean stop (Change.Window set) below the stored bound is the window of a
// broker whose lease another broker has since extended. It is obsolete, and
// skipped: the stored bound already refuses every counter it would.
func (s *Store) checkWindow(ctx context.Context, c devices.Change) (stored, error) {
	bound, _, rev, err := s.readLease(ctx, c.KID)
	if err != nil {
		return stored{}, err
	}
	if rev != 0 && bound > c.HighWater {
		if c.Window != nil {
			return stored{rev: rev, skip: true}, nil
		}
		return stored{}, &devices.ConflictError{Msg: fmt.Sprintf("kid %s: counter bound would go down from %d to %d (another broker took a lease)",
			signing.FormatKeyID(c.KID), bound, c.HighWater)}
	}
	return stored{rev: rev}, nil
}

// putWindow writes one key's record as a Change asks (its bound, and its
// window when saved at a clean stop) by compare-and-set on the revision
// checked, reading and checking it again if another writer got there first.
func (s *Store) putWindow(ctx context.Context, c devices.Change, st stored) error {
	value := binary.BigEndian.AppendUint64(nil, c.HighWater)
	value = append(value, c.Window...)
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			var err error
			if st, err = s.checkWindow(ctx, c); err != nil {
				return err
			}
		}
		if st.skip {
			return nil
		}
		won, err := s.writeLease(ctx, c.KID, c.HighWater, st.rev, value)
		if err != nil || won {
			return err
		}
	}
	return fmt.Errorf("kid %s: its record kept changing under %d attempts", signing.FormatKeyID(c.KID), maxCASAttempts)
}
