// Package replay is the broker's anti-replay window (SPEC §6): one per key,
// a sliding window over the highest accepted counter, kept as a ring of
// 64-bit blocks that is never bit-shifted (RFC 6479, as in wireguard-go).
//
// A Window is not safe for concurrent use: its owner holds a lock around
// Check and Accept, which is what makes the pre-check of SPEC §4 step 7 and
// the test-and-set of step 11 one atomic decision.
package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

const (
	blockBits = 64
	// ringBlocks is the ring size, a power of two so that the index is a
	// mask. The window is one block smaller than the ring, so the block
	// being filled never overlaps the oldest one (RFC 6479 §2).
	ringBlocks = 1 << 5
	blockMask  = ringBlocks - 1

	// WindowSize is how far below the highest accepted counter a late
	// message is still accepted: 1984, at least the 1024 of SPEC §6
	// (RFC 4303 §3.4.3 suggests 64 for IPsec; a city stream reorders more).
	WindowSize = (ringBlocks - 1) * blockBits

	// MaxCounter is the highest counter ever accepted: beyond it the window
	// could not slide, so the key must be rotated (SPEC §6).
	MaxCounter = math.MaxUint64 - WindowSize
)

// Window is the zero-valued-ready replay window: nothing seen, every counter
// from 1 on acceptable. Counter 0 is never valid.
type Window struct {
	highest uint64
	ring    [ringBlocks]uint64
}

// Highest returns the highest accepted counter (0: none).
func (w *Window) Highest() uint64 { return w.highest }

// Check reports whether ctr would be accepted now, changing nothing.
func (w *Window) Check(ctr uint64) bool {
	if ctr == 0 || ctr > MaxCounter {
		return false
	}
	if ctr > w.highest {
		return true
	}
	if w.highest-ctr >= WindowSize {
		return false // too old: outside the window
	}
	block := (ctr / blockBits) & blockMask
	return w.ring[block]&(1<<(ctr%blockBits)) == 0
}

// Accept marks ctr as seen if Check allows it, and reports whether it did.
func (w *Window) Accept(ctr uint64) bool {
	if !w.Check(ctr) {
		return false
	}
	if ctr > w.highest {
		// Clear the blocks the window slides over (RFC 6479 §2).
		cur, next := w.highest/blockBits, ctr/blockBits
		diff := next - cur
		if diff > ringBlocks {
			diff = ringBlocks
		}
		for i := uint64(1); i <= diff; i++ {
			w.ring[(cur+i)&blockMask] = 0
		}
		w.highest = ctr
	}
	w.ring[(ctr/blockBits)&blockMask] |= 1 << (ctr % blockBits)
	return true
}

// Resume returns a window that knows only a durable high-water mark: every
// counter at or below it is refused, every counter above it is new. Every
// block is marked seen except the bits above highWater in its own block: those
// counters were never accepted, and a reordered one among them must still be
// taken once the window has moved past it.
func Resume(highWater uint64) Window {
	w := Window{highest: highWater}
	for i := range w.ring {
		w.ring[i] = math.MaxUint64
	}
	// Bits 0..highWater%64 of the current block: seen; the rest: free.
	w.ring[(highWater/blockBits)&blockMask] = math.MaxUint64 >> (blockBits - 1 - highWater%blockBits)
	return w
}

// encodedSize is the length of MarshalBinary's output.
const encodedSize = 1 + 8 + 8*ringBlocks

const encodingVersion = 1

// MarshalBinary encodes the window: a version byte, the highest counter and
// the ring, big-endian.
func (w *Window) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, encodedSize)
	b = append(b, encodingVersion)
	b = binary.BigEndian.AppendUint64(b, w.highest)
	for _, blk := range w.ring {
		b = binary.BigEndian.AppendUint64(b, blk)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary made.
func (w *Window) UnmarshalBinary(b []byte) error {
	if len(b) != encodedSize {
		return fmt.Errorf("replay window: %d bytes, want %d", len(b), encodedSize)
	}
	if b[0] != encodingVersion {
		return fmt.Errorf("replay window: encoding version %d, want %d", b[0], encodingVersion)
	}
	w.highest = binary.BigEndian.Uint64(b[1:9])
	for i := range w.ring {
		w.ring[i] = binary.BigEndian.Uint64(b[9+8*i:])
	}
	if w.highest > MaxCounter {
		return errors.New("replay window: highest counter beyond the counter space")
	}
	return nil
}
