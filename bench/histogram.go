package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts latencies in log-linear buckets, as HdrHistogram does:
// values below 2^histSubBits ns are exact, and above that every power of
// two is split into 2^histSubBits equal buckets, so a recorded value is
// known to within 1/2^histSubBits (0.8%) of itself. Recording is a few
// arithmetic operations and one increment, with no allocation; a Histogram
// is not safe for concurrent use (give each goroutine one and Merge them).
type Histogram struct {
	counts [histBuckets]uint64
	total  uint64
	min    time.Duration
	max    time.Duration
}

const (
	histSubBits = 7 // 128 sub-buckets per power of two: 0.8% resolution
	histSub     = 1 << histSubBits
	// histBuckets covers every non-negative int64 of nanoseconds.
	histBuckets = (64 - histSubBits) * histSub
)

// bucketOf maps a non-negative value to its bucket.
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	exp := bits.Len64(v) - histSubBits // ≥ 1
	return exp*histSub + int(v>>(exp-1)) - histSub
}

// bucketUpper is the largest value that falls in bucket b.
func bucketUpper(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	exp := b / histSub
	sub := uint64(b%histSub) + histSub
	return (sub+1)<<(exp-1) - 1
}

// Record adds one latency; negative values count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.total == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.total++
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.total += o.total
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return h.max }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) by nearest rank: the upper
// edge of the bucket holding the ceil(q·n)-th smallest value, clamped to the
// exact minimum and maximum. It is 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(1, min(rank, h.total))
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketUpper(b))
			return max(h.min, min(v, h.max))
		}
	}
	return h.max
}

// CDFPoint is one point of a cumulative distribution: the fraction of
// values at or below Latency.
type CDFPoint struct {
	Latency  time.Duration `json:"-"`
	Millis   float64       `json:"ms"`
	Fraction float64       `json:"fraction"`
}

// CDF returns the cumulative distribution at every non-empty bucket, for
// plots.
func (h *Histogram) CDF() []CDFPoint {
	var out []CDFPoint
	var seen uint64
	for b, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		v := max(h.min, min(time.Duration(bucketUpper(b)), h.max))
		out = append(out, CDFPoint{Latency: v, Millis: millis(v), Fraction: float64(seen) / float64(h.total)})
	}
	return out
}
