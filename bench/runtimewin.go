package bench

import (
	"math"
	"runtime/metrics"
)

// RuntimeStats is what the Go runtime of a broker under test did in one
// measured window, from runtime/metrics: how often it collected garbage,
// and how long goroutines that were ready to run waited for a CPU. A
// latency tail that these explain is the machine's and the runtime's, not
// a stage of the broker's: a collection holds up the messages in flight,
// and with more runnable goroutines than CPUs each waits its turn.
type RuntimeStats struct {
	// GCCycles is how many collections completed in the window.
	GCCycles uint64 `json:"gc_cycles"`
	// GCPauseMaxMs is the longest stop-the-world pause of a collection
	// (within the histogram's bucket).
	GCPauseMaxMs float64 `json:"gc_pause_max_ms"`
	// GCAssistCPUMs is the CPU time goroutines spent marking for the
	// collector because they allocated while it ran (mark assists).
	GCAssistCPUMs float64 `json:"gc_assist_cpu_ms"`
	// SchedP50Ms and SchedP99Ms are the time goroutines spent runnable
	// before they ran (/sched/latencies:seconds).
	SchedP50Ms float64 `json:"sched_latency_p50_ms"`
	SchedP99Ms float64 `json:"sched_latency_p99_ms"`
}

// The runtime/metrics names RuntimeStats reads.
const (
	metricGCCycles     = "/gc/cycles/total:gc-cycles"
	metricGCPauses     = "/sched/pauses/total/gc:seconds"
	metricAssistCPU    = "/cpu/classes/gc/mark/assist:cpu-seconds"
	metricSchedLatency = "/sched/latencies:seconds"
)

// RuntimeWindow measures this process's RuntimeStats over a window (a
// broker under test's side of "profile start" and "profile stop").
type RuntimeWindow struct {
	start []metrics.Sample
}

func readRuntime() []metrics.Sample {
	s := []metrics.Sample{{Name: metricGCCycles}, {Name: metricGCPauses}, {Name: metricAssistCPU}, {Name: metricSchedLatency}}
	metrics.Read(s)
	return s
}

// Start opens the window.
func (w *RuntimeWindow) Start() { w.start = readRuntime() }

// Stop closes the window and returns what the runtime did in it.
func (w *RuntimeWindow) Stop() *RuntimeStats {
	end := readRuntime()
	if w.start == nil {
		w.start = end
	}
	st := &RuntimeStats{}
	for i, e := range end {
		b := w.start[i]
		switch e.Name {
		case metricGCCycles:
			if e.Value.Kind() == metrics.KindUint64 {
				st.GCCycles = e.Value.Uint64() - b.Value.Uint64()
			}
		case metricAssistCPU:
			if e.Value.Kind() == metrics.KindFloat64 {
				st.GCAssistCPUMs = (e.Value.Float64() - b.Value.Float64()) * 1e3
			}
		case metricGCPauses:
			if h := histogramDelta(histogramOf(b), histogramOf(e)); h != nil {
				st.GCPauseMaxMs = histogramQuantile(h, 1) * 1e3
			}
		case metricSchedLatency:
			if h := histogramDelta(histogramOf(b), histogramOf(e)); h != nil {
				st.SchedP50Ms = histogramQuantile(h, 0.5) * 1e3
				st.SchedP99Ms = histogramQuantile(h, 0.99) * 1e3
			}
		}
	}
	return st
}

// histogramOf is s's histogram (nil if it is not one).
func histogramOf(s metrics.Sample) *metrics.Float64Histogram {
	if s.Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s.Value.Float64Histogram()
}

// histogramDelta is the observations of e that b had not seen (nil if
// either is missing or their buckets differ).
func histogramDelta(b, e *metrics.Float64Histogram) *metrics.Float64Histogram {
	if b == nil || e == nil || len(b.Counts) != len(e.Counts) {
		return nil
	}
	d := &metrics.Float64Histogram{Counts: make([]uint64, len(e.Counts)), Buckets: e.Buckets}
	for i := range e.Counts {
		d.Counts[i] = e.Counts[i] - min(e.Counts[i], b.Counts[i])
	}
	return d
}

// histogramQuantile is the q-quantile of h, reported as the upper bound of
// its bucket (the lower bound for the last, unbounded one); 0 when empty.
func histogramQuantile(h *metrics.Float64Histogram, q float64) float64 {
	var total uint64
	for _, n := range h.Counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range h.Counts {
		if seen += n; seen >= max(rank, 1) {
			if hi := h.Buckets[i+1]; !math.IsInf(hi, 1) {
				return hi
			}
			return h.Buckets[i]
		}
	}
	return 0
}

// RuntimeColumns head the runtime table's figures, in the order of
// RuntimeCells.
var RuntimeColumns = []string{"GCs at max", "sched p99 ms at max", "GCs at half load", "GC assist ms at half load", "sched p50 ms at half load", "sched p99 ms at half load"}

// RuntimeCells are a configuration's figures under RuntimeColumns (false
// for a broker without a Go runtime's figures).
func RuntimeCells(c ConfigResult) ([]any, bool) {
	if c.MaxRuntime == nil || c.HalfRuntime == nil {
		return nil, false
	}
	m, h := c.MaxRuntime, c.HalfRuntime
	return []any{float64(m.GCCycles), m.SchedP99Ms, float64(h.GCCycles), h.GCAssistCPUMs, h.SchedP50Ms, h.SchedP99Ms}, true
}
