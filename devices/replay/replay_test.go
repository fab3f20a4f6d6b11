package replay

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWindowEdges walks the window edge by edge, as wireguard-go's test does.
func TestWindowEdges(t *testing.T) {
	var w Window
	steps := []struct {
		ctr  uint64
		want bool
		why  string
	}{
		{0, false, "zero is never valid"},
		{1, true, "first"},
		{1, false, "duplicate"},
		{2, true, "in order"},
		{5, true, "gap ahead"},
		{4, true, "out of order inside"},
		{3, true, "out of order inside"},
		{3, false, "duplicate out of order"},
		{WindowSize + 5, true, "jump to the edge"},
		{6, true, "just inside: highest-6 = WindowSize-1"},
		{5, false, "seen and now at the edge"},
		{4, false, "just outside the window"},
		{WindowSize + 5, false, "duplicate highest"},
		{3 * WindowSize, true, "far ahead clears the ring"},
		{2*WindowSize + 1, true, "inside after the far jump (bits were cleared)"},
		{2 * WindowSize, false, "exactly WindowSize below: outside"},
		{MaxCounter, true, "last usable counter"},
		{MaxCounter + 1, false, "counter space exhausted"},
		{math.MaxUint64, false, "counter space exhausted"},
	}
	for i, s := range steps {
		if got := w.Check(s.ctr); got != s.want {
			t.Fatalf("step %d (%s): Check(%d) = %v, want %v", i, s.why, s.ctr, got, s.want)
		}
		if got := w.Accept(s.ctr); got != s.want {
			t.Fatalf("step %d (%s): Accept(%d) = %v, want %v", i, s.why, s.ctr, got, s.want)
		}
	}
}

// TestRingWrap fills every counter across several wraps of the ring.
func TestRingWrap(t *testing.T) {
	var w Window
	for c := uint64(1); c < 10*ringBlocks*blockBits; c++ {
		if !w.Accept(c) {
			t.Fatalf("in-order counter %d refused", c)
		}
		if w.Accept(c) {
			t.Fatalf("duplicate %d accepted", c)
		}
		if c > WindowSize && w.Check(c-WindowSize) {
			t.Fatalf("counter %d (WindowSize below %d) allowed", c-WindowSize, c)
		}
	}
}

// TestAgainstReference compares with a set of seen counters over random
// sequences that mix in-order, reordered, duplicate, old and far-ahead
// counters, from an empty window and from a resumed one. Before every
// Accept, Check must give the same answer and change nothing (the read-only
// pre-check of SPEC §4 step 7).
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var w Window
		// reference: every counter at or below floor is taken (a resumed
		// high-water mark), and seen holds the ones accepted above it.
		seen := map[uint64]bool{}
		var floor, highest uint64
		if round%3 == 1 {
			floor = uint64(rng.IntN(10 * WindowSize))
			w, highest = Resume(floor), floor
		}
		base := highest + 1
		for range 2000 {
			var c uint64
			switch rng.IntN(5) {
			case 0:
				base += uint64(rng.IntN(3) + 1)
				c = base
			case 1:
				c = base - uint64(rng.IntN(int(min(base, 3*WindowSize))))
			case 2:
				base += uint64(rng.IntN(4 * WindowSize))
				c = base
			case 3:
				c = highest + uint64(rng.IntN(blockBits)) // just above, often reordered
			default:
				c = highest - min(highest, uint64(rng.IntN(WindowSize+2)))
			}
			want := c != 0 && c > floor && !seen[c] && (c > highest || highest-c < WindowSize)
			before := w
			if got := w.Check(c); got != want || w != before {
				t.Fatalf("round %d: Check(%d) with highest %d = %v (window changed: %v), want %v", round, c, highest, got, w != before, want)
			}
			if got := w.Accept(c); got != want {
				t.Fatalf("round %d: Accept(%d) with highest %d = %v, want %v", round, c, highest, got, want)
			}
			if want {
				seen[c] = true
				highest = max(highest, c)
			}
			if w.Highest() != highest {
				t.Fatalf("round %d: Highest() = %d, want %d", round, w.Highest(), highest)
			}
		}
	}
}

// TestResumeTakesReorderedCountersAboveTheMark: after a restart from a
// durable high-water mark, counters above it that arrive out of order (in the
// mark's own 64-bit block, or the next) are still accepted once, and nothing
// at or below the mark is.
func TestResumeTakesReorderedCountersAboveTheMark(t *testing.T) {
	for _, hw := range []uint64{0, 1, 62, 63, 64, 65, 500, 1 << 40, MaxCounter - 70} {
		w := Resume(hw)
		steps := []struct {
			ctr  uint64
			want bool
		}{
			{hw + 3, true}, {hw + 1, true}, {hw + 2, true}, {hw + 2, false},
			{hw + 70, true}, {hw + 69, true}, {hw + 4, true}, {hw + 4, false},
		}
		for _, s := range steps {
			if got := w.Accept(s.ctr); got != s.want {
				t.Fatalf("Resume(%d): Accept(%d) = %v, want %v", hw, s.ctr, got, s.want)
			}
		}
		for _, c := range []uint64{hw, hw - min(hw, 1), hw - min(hw, 63), hw - min(hw, 64)} {
			if c != 0 && w.Check(c) {
				t.Fatalf("Resume(%d): counter %d at or below the mark allowed", hw, c)
			}
		}
	}
}

func TestMarshalRoundTripAndResume(t *testing.T) {
	var w Window
	for _, c := range []uint64{1, 3, 9, 700, 2000} {
		w.Accept(c)
	}
	b, _ := w.MarshalBinary()
	var r Window
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if r != w {
		t.Fatal("round trip changed the window")
	}
	if err := r.UnmarshalBinary(b[:10]); err == nil {
		t.Fatal("truncated window decoded")
	}
	bad := append([]byte{}, b...)
	bad[0] = 9
	if err := r.UnmarshalBinary(bad); err == nil {
		t.Fatal("unknown version decoded")
	}
	res := Resume(500)
	for _, c := range []uint64{1, 499, 500} {
		if res.Check(c) {
			t.Fatalf("Resume(500) allows %d", c)
		}
	}
	if !res.Accept(501) || res.Highest() != 501 {
		t.Fatal("Resume(500) refuses 501")
	}
}

func BenchmarkAccept(b *testing.B) {
	var w Window
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Accept(uint64(i + 1))
	}
}
