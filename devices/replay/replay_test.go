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

// TestAgainstReference compares with a map of seen counters over random
// sequences that mix in-order, reordered, duplicate and old counters.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var w Window
		seen := map[uint64]bool{}
		var highest uint64
		base := uint64(1)
		for range 2000 {
			var c uint64
			switch rng.IntN(4) {
			case 0:
				base += uint64(rng.IntN(3) + 1)
				c = base
			case 1:
				c = base - uint64(rng.IntN(int(min(base, 3*WindowSize))))
			case 2:
				base += uint64(rng.IntN(4 * WindowSize))
				c = base
			default:
				c = highest - min(highest, uint64(rng.IntN(WindowSize+2)))
			}
			want := c != 0 && !seen[c] && (c > highest || highest-c < WindowSize)
			if got := w.Accept(c); got != want {
				t.Fatalf("round %d: Accept(%d) with highest %d = %v, want %v", round, c, highest, got, want)
			}
			if want {
				seen[c] = true
				highest = max(highest, c)
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
