package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBucketsAreContiguous(t *testing.T) {
	// Every value maps to the bucket whose upper edge is the first ≥ it,
	// and bucket edges increase by one past the previous bucket's edge.
	prev := uint64(0)
	for b := 1; b < 40*histSub; b++ {
		up := bucketUpper(b)
		if up <= prev {
			t.Fatalf("bucket %d upper %d not above bucket %d upper %d", b, up, b-1, prev)
		}
		if got := bucketOf(prev + 1); got != b {
			t.Fatalf("value %d in bucket %d, want %d", prev+1, got, b)
		}
		if got := bucketOf(up); got != b {
			t.Fatalf("value %d in bucket %d, want %d", up, got, b)
		}
		prev = up
	}
}

func TestHistogramQuantilesMatchSortedValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var all []time.Duration
	for range 100_000 {
		// Log-normal-ish latencies from 10 µs to ~1 s.
		d := time.Duration(10_000 * (1 + rng.ExpFloat64()*rng.ExpFloat64()*50))
		h.Record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := percentile(all, q)
		if q == 0 {
			want = all[0]
		}
		got := h.Quantile(q)
		// Nearest rank within one bucket: at most 1/128 above the exact value.
		if got < want || float64(got-want) > float64(want)/histSub+1 {
			t.Errorf("q=%v: got %v, want %v (within %.1f%%)", q, got, want, 100.0/histSub)
		}
	}
	if h.Count() != 100_000 || h.Max() != all[len(all)-1] {
		t.Errorf("count %d max %v, want 100000 and %v", h.Count(), h.Max(), all[len(all)-1])
	}
}

func TestHistogramSmallAndEdgeCases(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || len(h.CDF()) != 0 {
		t.Fatal("empty histogram must report 0 and an empty CDF")
	}
	for _, d := range []time.Duration{5, 1, 3, -7} {
		h.Record(d)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0, 0}, {0.25, 0}, {0.5, 1}, {0.75, 3}, {1, 5}}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	var other Histogram
	other.Record(time.Second)
	h.Merge(&other)
	if h.Count() != 5 || h.Quantile(1) != time.Second {
		t.Errorf("after merge: count %d max %v", h.Count(), h.Quantile(1))
	}
	cdf := h.CDF()
	if last := cdf[len(cdf)-1]; last.Fraction != 1 || last.Latency != time.Second {
		t.Errorf("CDF ends at %+v, want fraction 1 at 1s", last)
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Fraction <= cdf[i-1].Fraction || cdf[i].Latency <= cdf[i-1].Latency {
			t.Errorf("CDF not increasing at %d: %+v then %+v", i, cdf[i-1], cdf[i])
		}
	}
}
