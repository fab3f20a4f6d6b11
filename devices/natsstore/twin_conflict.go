package natsstore

import (
	"errors"

	"github.com/signet-city/signet/devices"
)

// A twin is one device's, but a device may roam between brokers and an
// operator may command it through any of them, so two brokers may change
// one twin. Each broker changes its twin in memory and writes it whole;
// one whose twin is older than the stored one must not overwrite what
// another broker wrote. The store remembers the KV revision of each twin
// as it last wrote or loaded it, and any other revision found at a write
// is another broker's: the write is refused with the stored twin, which
// the edge adopts and applies its change to again (devices/edge_adopt.go).

// otherWriter reports whether the stored twin at rev was written by
// another broker since this store last wrote or loaded the device's twin.
// A twin this store never saw is judged by its version alone.
func (s *Store) otherWriter(device string, rev uint64) bool {
	known, ok := s.twinRevs.Load(device)
	return ok && known.(uint64) != rev
}

// twinConflict is the refusal of a write over a twin another broker wrote
// (at rev). From now on rev is the revision this store knows: the edge
// adopts that twin before the committer writes its next round.
func (s *Store) twinConflict(device string, doc []byte, rev uint64) error {
	s.twinRevs.Store(device, rev)
	return &devices.TwinConflictError{Device: device, Stored: doc}
}

// splitConflict returns a twin conflict as the first value and any other
// error as the second.
func splitConflict(err error) (conflict, other error) {
	var c *devices.TwinConflictError
	if errors.As(err, &c) {
		return err, nil
	}
	return nil, err
}

// learnTwins records the revision of every twin loaded, and 0 for the
// devices with none yet, unless this store knows them already: a twin
// the edge keeps in memory across a reload is the one this store last
// wrote or loaded.
func (s *Store) learnTwins(devs []devices.Device, revs map[string]uint64) {
	for _, d := range devs {
		s.twinRevs.LoadOrStore(d.ID, revs[d.ID])
	}
}

// splitConflicts splits a Commit error into its twin conflicts and the
// rest (nil when it holds only conflicts).
func splitConflicts(err error) (conflicts, other error) {
	var cs, os []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if c, _ := splitConflict(e); c != nil {
			cs = append(cs, c)
		} else {
			os = append(os, e)
		}
	}
	walk(err)
	return errors.Join(cs...), errors.Join(os...)
}
