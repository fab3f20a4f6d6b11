package bench

import (
	"encoding/json"
	"strings"
	"testing"
)

// round builds one round's rows: plain, naive and strict (one connection
// per device), and a strict gateway row that must not count.
func round(plain, naive, strict, p99 float64) []ConfigResult {
	return []ConfigResult{
		{Name: "plain", Mode: ModePlain, MsgsPerSec: plain},
		{Name: "naive", Mode: ModeNaive, MsgsPerSec: naive},
		{Name: "strict", Mode: ModeStrict, MsgsPerSec: strict, HalfP99Ms: p99, HalfDeliveryP99Ms: p99 + 1},
		{Name: "strict, 10 gateways", Mode: ModeStrict, Gateway: true, MsgsPerSec: 1, HalfP99Ms: 99},
	}
}

func TestSummarizeOneRound(t *testing.T) {
	r := &BrokerReport{QoS: 1}
	rows := round(1000, 400, 500, 7)
	r.summarize([][]ConfigResult{rows})
	want := Figures{PlainMsgsPerSec: 1000, NaiveMsgsPerSec: 400, SignetMsgsPerSec: 500, RatioVsPlain: 0.5, RatioVsNaive: 1.25, P99MsAtHalfLoad: 7}
	if r.Figures != want {
		t.Errorf("figures = %+v, want %+v", r.Figures, want)
	}
	if r.Rounds != nil || len(r.Configs) != len(rows) {
		t.Errorf("one round: Rounds %v (want none), %d rows (want %d)", r.Rounds, len(r.Configs), len(rows))
	}
	if r.RowFigures() != want {
		t.Errorf("RowFigures = %+v, want the round's own", r.RowFigures())
	}

	// QoS 0 has no PUBACK: the latency is publish to delivery.
	r = &BrokerReport{QoS: 0}
	r.summarize([][]ConfigResult{rows})
	if r.P99MsAtHalfLoad != 8 {
		t.Errorf("QoS 0: p99 = %v, want the delivery p99 8", r.P99MsAtHalfLoad)
	}
}

func TestSummarizeRoundsTakesMedians(t *testing.T) {
	r := &BrokerReport{QoS: 1}
	rounds := [][]ConfigResult{
		round(1000, 400, 300, 20), // 0.30x plain, 0.75x naive
		round(800, 500, 400, 9),   // 0.50x plain, 0.80x naive
		round(900, 300, 360, 12),  // 0.40x plain, 1.20x naive
	}
	r.summarize(rounds)
	if len(r.Rounds) != 3 {
		t.Fatalf("%d rounds recorded, want 3", len(r.Rounds))
	}
	// Each figure's own median, not one round's figures.
	want := Figures{PlainMsgsPerSec: 900, NaiveMsgsPerSec: 400, SignetMsgsPerSec: 360, RatioVsPlain: 0.4, RatioVsNaive: 0.8, P99MsAtHalfLoad: 12}
	if !closeFigures(r.Figures, want) {
		t.Errorf("medians = %+v, want %+v", r.Figures, want)
	}
	// The rows shown are the median round by ratio vs plain: the third.
	if r.MedianRound != 2 || r.Configs[0].MsgsPerSec != 900 {
		t.Errorf("median round %d with plain %v; want round 2 (plain 900)", r.MedianRound, r.Configs[0].MsgsPerSec)
	}
	if got := r.RowFigures(); got.PlainMsgsPerSec != 900 || got.RatioVsNaive != 1.2 {
		t.Errorf("RowFigures = %+v, want round 2's own figures", got)
	}

	// An even count: the mean of the two middle values; the lower middle
	// round by ratio.
	r = &BrokerReport{QoS: 1}
	r.summarize(rounds[:2])
	if r.PlainMsgsPerSec != 900 || !near(r.RatioVsPlain, 0.4) || r.MedianRound != 0 {
		t.Errorf("two rounds: plain %v, ratio %v, median round %d; want 900, 0.4, 0", r.PlainMsgsPerSec, r.RatioVsPlain, r.MedianRound)
	}

	// The JSON keeps the acceptance figures at the top level.
	var top map[string]any
	b, _ := json.Marshal(r)
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"plain_msgs_per_s", "naive_msgs_per_s", "signet_msgs_per_s", "ratio_vs_plain", "ratio_vs_naive", "p99_ms_at_half_load", "rounds"} {
		if _, ok := top[k]; !ok {
			t.Errorf("JSON has no top-level %q: %s", k, b)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

func closeFigures(a, b Figures) bool {
	return near(a.PlainMsgsPerSec, b.PlainMsgsPerSec) && near(a.NaiveMsgsPerSec, b.NaiveMsgsPerSec) &&
		near(a.SignetMsgsPerSec, b.SignetMsgsPerSec) && near(a.RatioVsPlain, b.RatioVsPlain) &&
		near(a.RatioVsNaive, b.RatioVsNaive) && near(a.P99MsAtHalfLoad, b.P99MsAtHalfLoad)
}

func TestFiguresSummary(t *testing.T) {
	f := Figures{PlainMsgsPerSec: 1000, NaiveMsgsPerSec: 400, SignetMsgsPerSec: 500, RatioVsPlain: 0.5, RatioVsNaive: 1.25, P99MsAtHalfLoad: 7}
	if got, want := f.Summary(), "signet (strict) 500 msg/s: 0.50x plain, 1.25x naive; p99 publish-to-PUBACK at half load 7.00 ms"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	// A baseline not measured is said, not shown as 0.00x.
	f.NaiveMsgsPerSec, f.RatioVsNaive = 0, 0
	if got := f.Summary(); !strings.Contains(got, "0.50x plain, no naive run;") {
		t.Errorf("without naive: %q", got)
	}
	if got := (Figures{PlainMsgsPerSec: 1000}).Summary(); got != "" {
		t.Errorf("without strict: %q, want no line", got)
	}
}
