package bench

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
)

// TestRuntimeWindowCountsCollections: a window in which the process
// collects twice reports at least two cycles (the runtime may add its own),
// and its scheduling latencies are a distribution's, p50 <= p99.
func TestRuntimeWindowCountsCollections(t *testing.T) {
	var w RuntimeWindow
	w.Start()
	runtime.GC()
	runtime.GC()
	st := w.Stop()
	if st.GCCycles < 2 {
		t.Errorf("GC cycles in a window with two runtime.GC: %d, want >= 2", st.GCCycles)
	}
	if st.SchedP50Ms > st.SchedP99Ms {
		t.Errorf("sched p50 %.3f ms > p99 %.3f ms", st.SchedP50Ms, st.SchedP99Ms)
	}
}

// TestHistogramQuantile: quantiles come from the delta of two readings of
// a cumulative histogram, as the upper bound of the bucket they fall in
// ([lo, hi) buckets; the lower bound for the unbounded last); nothing observed gives 0, and
// readings with different buckets give no delta.
func TestHistogramQuantile(t *testing.T) {
	buckets := []float64{0, 1, 2, 4, math.Inf(1)}
	before := &metrics.Float64Histogram{Counts: []uint64{5, 0, 0, 0}, Buckets: buckets}
	after := &metrics.Float64Histogram{Counts: []uint64{5, 90, 9, 1}, Buckets: buckets}
	d := histogramDelta(before, after)
	for _, c := range []struct{ q, want float64 }{{0.5, 2}, {0.9, 2}, {0.95, 4}, {0.99, 4}, {1, 4}} {
		if got := histogramQuantile(d, c.q); got != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if got := histogramQuantile(histogramDelta(after, after), 0.99); got != 0 {
		t.Errorf("empty window: q0.99 = %v, want 0", got)
	}
	other := &metrics.Float64Histogram{Counts: []uint64{1, 2}, Buckets: []float64{0, 1, 2}}
	if histogramDelta(before, other) != nil {
		t.Error("histograms with different buckets gave a delta")
	}
}
