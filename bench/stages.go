package bench

import (
	"fmt"
	"math"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/signet-city/signet/broker"
)

// Stages is where a Signet broker's accepted and refused messages spent
// their time in one measured window, read from the broker's own latency
// histograms (native histograms: quantiles within about 5%), and how its
// verifier batched their signatures, from its counters.
type Stages struct {
	// Verify is from PUBLISH arrival to verdict, commit included.
	Verify StageLatency `json:"verify"`
	// Signature is the wait for the fast-path verifier: the batching delay
	// and the batch.
	Signature StageLatency `json:"signature_wait"`
	// Commit is the wait for the durable commit: the transaction before
	// and the message's own.
	Commit StageLatency `json:"commit_wait"`
	// Batching is how the verifier grouped the window's signatures, and the
	// committer its changes.
	Batching Batching `json:"batching"`
}

// StageLatency is one stage's distribution.
type StageLatency struct {
	Count uint64  `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// stageMetrics names the histogram behind each stage.
var stageMetrics = []struct {
	name  string
	stage func(*Stages) *StageLatency
}{
	{broker.MetricVerifySeconds, func(s *Stages) *StageLatency { return &s.Verify }},
	{broker.MetricSignatureSeconds, func(s *Stages) *StageLatency { return &s.Signature }},
	{broker.MetricCommitSeconds, func(s *Stages) *StageLatency { return &s.Commit }},
}

// histCounts is a native histogram's buckets at one moment: bucket index
// to count, with the schema that gives the indices their bounds.
type histCounts struct {
	schema  int32
	zero    uint64 // observations at or near zero
	buckets map[int]uint64
}

// stageSnapshot is a broker's stage histograms and verifier counters at
// one moment.
type stageSnapshot struct {
	hists    map[string]histCounts
	counters map[string]uint64
	sizes    sizeClasses
}

// readStages reads the stage histograms and the verifier's counters from
// g (nil: none).
func readStages(g prometheus.Gatherer) (stageSnapshot, error) {
	if g == nil {
		return stageSnapshot{}, nil
	}
	families, err := g.Gather()
	if err != nil {
		return stageSnapshot{}, err
	}
	out := map[string]histCounts{}
	for _, f := range families {
		for _, m := range stageMetrics {
			if f.GetName() == m.name && len(f.GetMetric()) == 1 && f.GetMetric()[0].GetHistogram() != nil {
				out[m.name] = nativeCounts(f.GetMetric()[0].GetHistogram())
			}
		}
	}
	return stageSnapshot{hists: out, counters: counterValues(families), sizes: batchSizesOf(families)}, nil
}

// nativeCounts decodes the positive buckets of a native histogram: spans
// of consecutive indices (each span's offset counted from the end of the
// one before), counts delta-encoded across all of them in order.
func nativeCounts(h *dto.Histogram) histCounts {
	c := histCounts{schema: h.GetSchema(), zero: h.GetZeroCount(), buckets: map[int]uint64{}}
	idx, count, d := 0, int64(0), 0
	deltas := h.GetPositiveDelta()
	for i, span := range h.GetPositiveSpan() {
		if i == 0 {
			idx = int(span.GetOffset())
		} else {
			idx += int(span.GetOffset())
		}
		for range span.GetLength() {
			if d < len(deltas) {
				count += deltas[d]
				d++
			}
			if count > 0 {
				c.buckets[idx] = uint64(count)
			}
			idx++
		}
	}
	return c
}

// stagesBetween is what was observed between two snapshots (nil if the
// broker has neither stage histograms nor verifier counters).
func stagesBetween(before, after stageSnapshot) *Stages {
	if len(after.hists) == 0 && len(after.counters) == 0 {
		return nil
	}
	s := &Stages{Batching: batchingBetween(before.counters, after.counters)}
	s.Batching.SizeClasses = after.sizes.minus(before.sizes)
	for _, m := range stageMetrics {
		a, ok := after.hists[m.name]
		if !ok {
			continue
		}
		*m.stage(s) = a.minus(before.hists[m.name]).latency()
	}
	return s
}

// minus is the observations of c that b had not seen. (A schema change in
// between, which the broker makes only past 200 buckets, makes b useless:
// then c alone.)
func (c histCounts) minus(b histCounts) histCounts {
	if b.buckets == nil || b.schema != c.schema {
		return c
	}
	out := histCounts{schema: c.schema, zero: c.zero - min(c.zero, b.zero), buckets: map[int]uint64{}}
	for i, n := range c.buckets {
		if n > b.buckets[i] {
			out.buckets[i] = n - b.buckets[i]
		}
	}
	return out
}

// latency gives the count and the quantiles. Bucket i of schema s holds
// (base^(i-1), base^i] seconds with base = 2^(2^-s); a quantile in it is
// reported as the bucket's geometric middle.
func (c histCounts) latency() StageLatency {
	total := c.zero
	idx := make([]int, 0, len(c.buckets))
	for i, n := range c.buckets {
		idx = append(idx, i)
		total += n
	}
	sort.Ints(idx)
	base := math.Pow(2, math.Pow(2, -float64(c.schema)))
	quantile := func(q float64) float64 {
		rank := uint64(math.Ceil(q * float64(total)))
		seen := c.zero
		if rank <= seen {
			return 0
		}
		for _, i := range idx {
			if seen += c.buckets[i]; seen >= rank {
				return math.Pow(base, float64(i)-0.5) * 1e3
			}
		}
		return 0
	}
	if total == 0 {
		return StageLatency{}
	}
	return StageLatency{Count: total, P50Ms: quantile(0.5), P99Ms: quantile(0.99)}
}

// WindowPrefix starts the line on which a target ("signet bench target")
// answers each "profile stop": its Window as JSON.
const WindowPrefix = "window "

// Window is what a broker under test reports of one measured window.
type Window struct {
	// Stages is from a Signet broker's own metrics (nil for the others).
	Stages *Stages `json:"stages"`
	// Runtime is from a Go broker's runtime (nil for mosquitto).
	Runtime *RuntimeStats `json:"runtime"`
}

// StageWindow measures a target's Stages over a window: the target's side
// of "profile start" and "profile stop".
type StageWindow struct {
	g     prometheus.Gatherer // nil: no stage histograms
	start stageSnapshot
}

// NewStageWindow reads the stage histograms from g (nil: none).
func NewStageWindow(g prometheus.Gatherer) *StageWindow { return &StageWindow{g: g} }

// Start opens the window.
func (w *StageWindow) Start() error {
	var err error
	w.start, err = readStages(w.g)
	return err
}

// Stop closes the window and returns what was observed in it (nil
// without stage histograms).
func (w *StageWindow) Stop() (*Stages, error) {
	end, err := readStages(w.g)
	if err != nil {
		return nil, err
	}
	return stagesBetween(w.start, end), nil
}

// StageRow is one configuration's stages, for a table.
type StageRow struct {
	Name   string
	Stages Stages
}

// StageColumns head a stage table's figures, in the order of Cells.
var StageColumns = []string{"verify p50 ms", "verify p99 ms", "signature wait p50 ms", "signature wait p99 ms", "commit wait p50 ms", "commit wait p99 ms", "mean batch", "changes per commit"}

// StageRows are the rows whose broker reported stages for the run that of
// picks (MaxStages, HalfStages, RateStages), in order.
func StageRows(rows []ConfigResult, of func(ConfigResult) *Stages) []StageRow {
	var out []StageRow
	for _, c := range rows {
		if st := of(c); st != nil {
			out = append(out, StageRow{Name: c.Name, Stages: *st})
		}
	}
	return out
}

// Cells are the figures of StageColumns, "-" for a stage the broker does
// not measure (the batch broker has only a Verifier, and no store).
func (s Stages) Cells() []string {
	ms := func(l StageLatency, v float64) string {
		if l.Count == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", v)
	}
	of := func(n uint64, v float64) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", v)
	}
	b := s.Batching
	return []string{ms(s.Verify, s.Verify.P50Ms), ms(s.Verify, s.Verify.P99Ms), ms(s.Signature, s.Signature.P50Ms), ms(s.Signature, s.Signature.P99Ms),
		ms(s.Commit, s.Commit.P50Ms), ms(s.Commit, s.Commit.P99Ms), of(b.Signatures, b.MeanBatch), of(b.Transactions, b.ChangesPerCommit)}
}
