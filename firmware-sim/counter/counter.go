// Package counter is a device's anti-replay counter (SPEC §6): strictly
// increasing, 64-bit, persisted with reserve-ahead so that a device that
// loses power at any instant never reuses a counter after it boots.
//
// The file holds the highest reserved counter R. Counters up to R may be in
// use; before handing out R+1 the store durably writes R+Reserve (write to a
// temp file, fsync, rename, fsync the folder). On boot the device resumes
// above the stored R, skipping at most Reserve counters it never used.
package counter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"

	"github.com/signet-city/signet/internal/atomicfile"
)

// DefaultReserve is how many counters one durable write covers.
const DefaultReserve = 1000

// Store hands out counters for one key. It is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	path     string
	reserve  uint64
	next     uint64 // next counter to hand out
	reserved uint64 // highest durably reserved counter
}

// Open loads the stored reservation at path (a missing file starts at 1).
func Open(path string, reserve uint64) (*Store, error) {
	if reserve == 0 {
		reserve = DefaultReserve
	}
	s := &Store{path: path, reserve: reserve}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("counter %s: %w", path, err)
	case len(b) != 8:
		return nil, fmt.Errorf("counter %s: %d bytes, want 8 (the file is damaged; never reset a counter, rotate the key)", path, len(b))
	default:
		s.reserved = binary.BigEndian.Uint64(b)
	}
	s.next = s.reserved + 1
	return s, nil
}

// Next returns the next counter, reserving more durably when needed.
func (s *Store) Next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next > s.reserved {
		if s.reserved > math.MaxUint64-s.reserve {
			return 0, errors.New("counter space exhausted: rotate the key")
		}
		if err := s.write(s.reserved + s.reserve); err != nil {
			return 0, err
		}
		s.reserved += s.reserve
	}
	c := s.next
	s.next++
	return c, nil
}

func (s *Store) write(v uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	if err := atomicfile.Write(s.path, 0o600, atomicfile.Bytes(b[:])); err != nil {
		return fmt.Errorf("counter %w", err)
	}
	return nil
}

// SkipAhead moves the counter forward by n, so that the next counter handed
// out is at least n above the one that would have been. A device calls it on
// every (re)connect with twice the broker's lease block: whatever it sent
// before a broker crash lies at or below the broker's restart floor, and
// its next message must lie above it (docs/counters.md). When the skip
// passes the reservation, the new one is written durably before SkipAhead
// returns, so a reboot never resumes below the skip.
func (s *Store) SkipAhead(n uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > math.MaxUint64-s.reserve || s.next > math.MaxUint64-s.reserve-n {
		return errors.New("counter space exhausted: rotate the key")
	}
	next := s.next + n
	if next-1 > s.reserved {
		if err := s.write(next - 1 + s.reserve); err != nil {
			return err
		}
		s.reserved = next - 1 + s.reserve
	}
	s.next = next
	return nil
}
