package bench

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/broker"
)

// stageRegistry is a registry with the three stage histograms, native
// buckets at factor 1.1 as the broker has them.
func stageRegistry(t *testing.T) (*prometheus.Registry, map[string]prometheus.Histogram) {
	t.Helper()
	reg := prometheus.NewRegistry()
	hs := map[string]prometheus.Histogram{}
	for _, m := range stageMetrics {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: m.name, Help: "test", NativeHistogramBucketFactor: 1.1})
		reg.MustRegister(h)
		hs[m.name] = h
	}
	return reg, hs
}

// within reports whether got is within 6% of want (native buckets at
// factor 1.1 report a bucket's geometric middle: within about 5%).
func within(got, want float64) bool { return math.Abs(got-want) <= 0.06*want }

func TestStageWindowCountsOnlyTheWindow(t *testing.T) {
	reg, hs := stageRegistry(t)
	verify := hs[broker.MetricVerifySeconds]
	// Before the window: slow observations that must not count.
	for range 500 {
		verify.Observe(0.5)
	}
	w := NewStageWindow(reg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	// In the window: 990 at 2 ms and 10 at 40 ms, so p50 is 2 ms and p99
	// is the 990th value, still 2 ms; then 20 more at 40 ms move p99 there.
	for range 990 {
		verify.Observe(0.002)
	}
	for range 30 {
		verify.Observe(0.040)
	}
	hs[broker.MetricCommitSeconds].Observe(0.001)
	st, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if st == nil {
		t.Fatal("no stages from a registry with the stage histograms")
	}
	if st.Verify.Count != 1020 {
		t.Errorf("verify count %d, want 1020 (the 500 before the window excluded)", st.Verify.Count)
	}
	if !within(st.Verify.P50Ms, 2) || !within(st.Verify.P99Ms, 40) {
		t.Errorf("verify p50 %.3f ms, p99 %.3f ms; want about 2 and 40", st.Verify.P50Ms, st.Verify.P99Ms)
	}
	if st.Commit.Count != 1 || !within(st.Commit.P50Ms, 1) {
		t.Errorf("commit %+v, want one observation at about 1 ms", st.Commit)
	}
	if st.Signature != (StageLatency{}) {
		t.Errorf("signature wait %+v, want nothing observed", st.Signature)
	}
}

func TestStageQuantilesAcrossTheRange(t *testing.T) {
	for _, d := range []time.Duration{50 * time.Microsecond, 700 * time.Microsecond, 9 * time.Millisecond, 300 * time.Millisecond, 4 * time.Second} {
		reg, hs := stageRegistry(t)
		w := NewStageWindow(reg)
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			hs[broker.MetricSignatureSeconds].Observe(d.Seconds())
		}
		st, err := w.Stop()
		if err != nil {
			t.Fatal(err)
		}
		want := float64(d) / float64(time.Millisecond)
		if st.Signature.Count != 10 || !within(st.Signature.P50Ms, want) || !within(st.Signature.P99Ms, want) {
			t.Errorf("%v: %+v, want 10 observations at about %.3f ms", d, st.Signature, want)
		}
	}
}

func TestStageWindowWithoutMetrics(t *testing.T) {
	w := NewStageWindow(nil) // plain and naive mochi
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	if st, err := w.Stop(); st != nil || err != nil {
		t.Errorf("no metrics: stages %+v, err %v; want none", st, err)
	}
}

func TestStageRows(t *testing.T) {
	st := &Stages{Verify: StageLatency{Count: 1, P50Ms: 1, P99Ms: 2}, Signature: StageLatency{Count: 1, P50Ms: 3, P99Ms: 4}, Commit: StageLatency{Count: 1, P50Ms: 5, P99Ms: 6},
		Batching: Batching{Signatures: 7, MeanBatch: 7, Transactions: 1, ChangesPerCommit: 8}}
	rows := []ConfigResult{{Name: "plain"}, {Name: "strict", HalfStages: st}, {Name: "relaxed", RateStages: st}}
	got := StageRows(rows, func(c ConfigResult) *Stages { return c.HalfStages })
	if len(got) != 1 || got[0].Name != "strict" {
		t.Fatalf("half-load rows %+v, want strict's alone", got)
	}
	cells := got[0].Stages.Cells()
	if len(cells) != len(StageColumns) {
		t.Fatalf("%d cells for %d columns", len(cells), len(StageColumns))
	}
	for i, c := range cells {
		if want := fmt.Sprintf("%d.00", i+1); c != want {
			t.Errorf("cell %d (%s) = %q, want %q", i, StageColumns[i], c, want)
		}
	}
	// A broker with a Verifier and nothing else (batch) has a mean batch
	// and no stage latencies or commits: those cells say so.
	verifierOnly := Stages{Batching: Batching{Signatures: 300, Batches: 2, MeanBatch: 150}}
	want := []string{"-", "-", "-", "-", "-", "-", "150.00", "-"}
	if got := verifierOnly.Cells(); !slices.Equal(got, want) {
		t.Errorf("a verifier-only broker's cells %q, want %q", got, want)
	}
}
