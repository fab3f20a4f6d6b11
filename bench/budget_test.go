package bench

import (
	"strings"
	"testing"

	"github.com/signet-city/signet/signing"
)

// cpuRow is a measured row with its broker's and the driver's CPU per
// message.
func cpuRow(mode string, broker, driver float64) ConfigResult {
	return ConfigResult{Name: mode, Mode: mode, MsgsPerSec: 1000, CPUMicrosPerMsg: broker, DriverCPUMicrosPerMsg: driver}
}

func TestBudgetOf(t *testing.T) {
	rows := []ConfigResult{
		cpuRow(ModePlain, 40, 30),
		cpuRow(ModeNaive, 150, 36),
		cpuRow(ModeStrict, 140, 34),
		// Neither a gateway row nor a skipped one counts.
		{Name: "strict, 10 gateways", Mode: ModeStrict, Gateway: true, MsgsPerSec: 1, CPUMicrosPerMsg: 1, DriverCPUMicrosPerMsg: 1},
		{Name: "mosquitto", Mode: ModeMosquitto, Skipped: "not installed"},
	}
	b := budgetOf(rows)
	if b == nil {
		t.Fatal("no budget from plain, naive and strict rows")
	}
	if b.StrictBroker != 140 || b.StrictDriver != 34 {
		t.Errorf("strict spent %v + %v µs, want the one-connection-per-device row's 140 + 34", b.StrictBroker, b.StrictDriver)
	}
	// (40 + 30) / 0.6 − 34 and (150 + 36) / 1.3 − 34.
	if b.ForPlain == nil || !near(*b.ForPlain, 70/TargetVsPlain-34) {
		t.Errorf("budget for the plain target = %v, want %v", b.ForPlain, 70/TargetVsPlain-34)
	}
	if b.ForNaive == nil || !near(*b.ForNaive, 186/TargetVsNaive-34) {
		t.Errorf("budget for the naive target = %v, want %v", b.ForNaive, 186/TargetVsNaive-34)
	}
	d := b.Describe()
	for _, want := range []string{"spent 140.0 µs", "(the driver 34.0)", "82.7 µs for 0.6x plain", "109.1 µs for 1.3x naive"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe() = %q, want it to say %q", d, want)
		}
	}

	// A budget can be below zero: the target is then out of reach whatever
	// the broker does.
	tight := budgetOf([]ConfigResult{cpuRow(ModeNaive, 20, 10), cpuRow(ModeStrict, 140, 34)})
	if tight == nil || tight.ForPlain != nil || tight.ForNaive == nil || *tight.ForNaive >= 0 {
		t.Errorf("naive and strict only: %+v, want no plain budget and a negative naive one", tight)
	}
	if d := tight.Describe(); strings.Contains(d, "plain") {
		t.Errorf("Describe() without a plain row = %q, should not mention plain", d)
	}
}

func TestBudgetOfNeedsStrictAndABaseline(t *testing.T) {
	for name, rows := range map[string][]ConfigResult{
		"no strict":               {cpuRow(ModePlain, 40, 30), cpuRow(ModeNaive, 150, 36)},
		"only a gateway":          {cpuRow(ModePlain, 40, 30), {Mode: ModeStrict, Gateway: true, MsgsPerSec: 1}},
		"no baseline":             {cpuRow(ModeStrict, 140, 34), cpuRow(ModeRelaxed, 130, 34)},
		"strict measured nothing": {cpuRow(ModePlain, 40, 30), {Mode: ModeStrict}},
	} {
		if b := budgetOf(rows); b != nil {
			t.Errorf("%s: budget %+v, want none", name, b)
		}
	}
}

func TestSummarizeBudgetsTheShownRound(t *testing.T) {
	r := &BrokerReport{QoS: 1}
	withCPU := func(plain, naive, strict float64, strictCPU float64) []ConfigResult {
		rows := round(plain, naive, strict, 10)
		for i := range rows {
			rows[i].CPUMicrosPerMsg, rows[i].DriverCPUMicrosPerMsg = 50, 30
		}
		rows[2].CPUMicrosPerMsg = strictCPU
		return rows
	}
	r.summarize([][]ConfigResult{
		withCPU(1000, 400, 300, 111), // 0.30x
		withCPU(800, 500, 400, 222),  // 0.50x
		withCPU(900, 300, 360, 333),  // 0.40x: the median round
	})
	if r.Budget == nil || r.Budget.StrictBroker != 333 {
		t.Errorf("budget %+v, want the median round's (strict broker 333 µs)", r.Budget)
	}
}

func TestMeasureFloor(t *testing.T) {
	b := budgetOf([]ConfigResult{cpuRow(ModePlain, 40, 30), cpuRow(ModeStrict, 140, 34)})
	if err := b.measureFloor(); err != nil {
		t.Fatal(err)
	}
	if b.BatchVerify <= 0 || !near(b.Floor, 40+b.BatchVerify) {
		t.Errorf("batch verify %v µs, floor %v: want a measured share and a floor of 40 + it", b.BatchVerify, b.Floor)
	}
	if d := b.Describe(); !strings.Contains(d, "its floor, plain's broker plus one signature's share of an Ed25519 batch of 1024") {
		t.Errorf("Describe() = %q, want the floor", d)
	}

	// Without plain there is no floor, and nothing is measured.
	b = budgetOf([]ConfigResult{cpuRow(ModeNaive, 150, 36), cpuRow(ModeStrict, 140, 34)})
	if err := b.measureFloor(); err != nil || b.Floor != 0 || b.BatchVerify != 0 {
		t.Errorf("no plain row: floor %v, batch verify %v, err %v; want none", b.Floor, b.BatchVerify, err)
	}
}

// TestCeilingsAtTheFloor checks the split of strict's CPU and each ratio's
// ceiling against the arithmetic of CPUBudget's model, from shares set by
// hand (measureFloor's are measured).
func TestCeilingsAtTheFloor(t *testing.T) {
	strict := cpuRow(ModeStrict, 52, 13)
	strict.MeanBatchAtMax = 113
	gwPlain := cpuRow(ModePlain, 6, 4)
	gwPlain.Name, gwPlain.Gateway = "plain, 10 gateways", true
	gwStrict := cpuRow(ModeStrict, 45, 7)
	gwStrict.Name, gwStrict.Gateway = "strict, 10 gateways", true
	pinPlain := cpuRow(ModePlain, 13, 11)
	pinPlain.Name, pinPlain.Pinned, pinPlain.MsgsPerSec = "plain, pinned", true, 75000
	b := budgetOf([]ConfigResult{cpuRow(ModePlain, 13, 10), cpuRow(ModeNaive, 70, 14), strict, gwPlain, gwStrict, pinPlain})
	if b == nil || b.MeanBatch != 113 {
		t.Fatalf("budget %+v, want one with strict's mean batch 113", b)
	}
	if b.Ceilings != nil {
		t.Errorf("ceilings %+v before the floor is measured", b.Ceilings)
	}
	b.BatchVerify, b.AtBatches = 12, 19.5
	b.setFloor()
	if !near(b.Floor, 25) || !near(b.Own, 52-13-19.5) {
		t.Errorf("floor %v and own work %v, want 13 + 12 and 52 − 13 − 19.5", b.Floor, b.Own)
	}
	c := b.Ceilings
	want := Ceilings{
		VsPlain:  (13.0 + 10) / (25 + 13),
		VsNaive:  (70.0 + 14) / (25 + 13),
		Gateways: (6.0 + 4) / (6 + 12 + 7), // plain gateway broker plus a share, and strict's gateway driver
		Pinned:   1e6 / (13.0 + 12) / 75000,
	}
	if c == nil || !near(c.VsPlain, want.VsPlain) || !near(c.VsNaive, want.VsNaive) || !near(c.Gateways, want.Gateways) || !near(c.Pinned, want.Pinned) {
		t.Fatalf("ceilings %+v, want %+v", c, want)
	}
	d := b.Describe()
	if !strings.Contains(d, "13.0 were plain's share, 19.5 its signatures' in the batches that formed (mean 113) and 19.5 Signet's own work") {
		t.Errorf("Describe() = %q, want the split of strict's 52 µs", d)
	}
	dc := b.DescribeCeilings()
	for _, w := range []string{"0.61x plain (target 0.6x)", "2.21x naive (target 1.3x)", "0.40x plain, both on gateways (target 0.4x)", "0.53x plain, both pinned (target 0.55x)"} {
		if !strings.Contains(dc, w) {
			t.Errorf("DescribeCeilings() = %q, want it to say %q", dc, w)
		}
	}

	// Without the gateway and pinned rows there are no ceilings for them.
	b = budgetOf([]ConfigResult{cpuRow(ModePlain, 13, 10), strict})
	b.BatchVerify = 12
	b.setFloor()
	if b.Ceilings.Gateways != 0 || b.Ceilings.Pinned != 0 || b.Ceilings.VsNaive != 0 || b.Own != 0 {
		t.Errorf("plain and strict only: ceilings %+v, own %v; want only the plain ceiling", b.Ceilings, b.Own)
	}
	if dc := b.DescribeCeilings(); strings.Contains(dc, "gateways") || strings.Contains(dc, "pinned") || !strings.Contains(dc, "plain (target") {
		t.Errorf("DescribeCeilings() = %q, want the plain ceiling alone", dc)
	}
}

// TestMeasuredFloor reads the batch broker's rows as the floor measured:
// its CPU over the computed floor, its ratios to plain shared and pinned,
// and what strict spent beyond it.
func TestMeasuredFloor(t *testing.T) {
	plain, batch, strict := cpuRow(ModePlain, 12, 10), cpuRow(ModeBatch, 31, 11), cpuRow(ModeStrict, 49, 13)
	plain.MsgsPerSec, batch.MsgsPerSec, batch.MeanBatchAtMax = 90000, 45000, 240
	pinPlain, pinBatch := cpuRow(ModePlain, 13, 11), cpuRow(ModeBatch, 30, 11)
	pinPlain.Name, pinPlain.Pinned, pinPlain.MsgsPerSec = "plain, pinned", true, 80000
	pinBatch.Name, pinBatch.Pinned, pinBatch.MsgsPerSec = "batch, pinned", true, 32000
	b := budgetOf([]ConfigResult{plain, batch, strict, pinPlain, pinBatch})
	m := b.Measured
	if m == nil {
		t.Fatal("no measured floor from a batch row")
	}
	if m.Broker != 31 || m.MeanBatch != 240 || !near(m.VsPlain, 0.5) || !near(m.PinnedVsPlain, 0.4) || !near(m.StrictOwn, 18) {
		t.Errorf("measured floor %+v, want 31 µs at batch 240, 0.5x plain, 0.4x pinned, strict 18 µs beyond", *m)
	}
	b.BatchVerify = 11.6
	b.setFloor()
	if !near(m.OverFloor, 31/23.6) {
		t.Errorf("over the floor %v, want 31 / (12 + 11.6)", m.OverFloor)
	}
	d := b.DescribeMeasured()
	for _, w := range []string{"31.0 µs per message (1.31x the floor; the target is 1.3x) at a mean batch of 240", "0.50x plain", "0.40x plain both pinned", "strict spent 18.0 µs per message beyond it"} {
		if !strings.Contains(d, w) {
			t.Errorf("DescribeMeasured() = %q, want it to say %q", d, w)
		}
	}
	if b := budgetOf([]ConfigResult{plain, strict}); b.Measured != nil || b.DescribeMeasured() != "" {
		t.Errorf("without a batch row: measured %+v, %q", b.Measured, b.DescribeMeasured())
	}
}

// TestMeasureFloorMeasuresTheBatchesFormed runs the real measurement,
// from size classes and from the mean batch alone: both shares are
// measured, and the split adds up to strict's CPU.
func TestMeasureFloorMeasuresTheBatchesFormed(t *testing.T) {
	for name, classes := range map[string]sizeClasses{
		"by size class":         {0: 40, 6: 10, 8: 5},
		"by mean, no histogram": {},
	} {
		strict := cpuRow(ModeStrict, 200, 13)
		strict.MeanBatchAtMax = 37.4
		strict.MaxStages = &Stages{Batching: Batching{SizeClasses: classes}}
		b := budgetOf([]ConfigResult{cpuRow(ModePlain, 13, 10), strict})
		if err := b.measureFloor(); err != nil {
			t.Fatal(err)
		}
		if b.BatchVerify <= 0 || b.AtBatches <= 0 {
			t.Fatalf("%s: shares %v (batches of %d) and %v (as formed), want both measured", name, b.BatchVerify, FloorBatch, b.AtBatches)
		}
		if !near(b.PlainBroker+b.AtBatches+b.Own, 200) || b.Ceilings == nil || b.Ceilings.VsPlain <= 0 {
			t.Errorf("%s: plain %v + signatures %v + own %v, want 200; ceilings %+v", name, b.PlainBroker, b.AtBatches, b.Own, b.Ceilings)
		}
	}
}

// TestSignatureShares: each class's verifications count at its middle
// size, so a class holds the signatures of its batches, not their count.
func TestSignatureShares(t *testing.T) {
	if w := (sizeClasses{}).signatureShares(); w != nil {
		t.Errorf("no verification: shares %v, want none", w)
	}
	for i, want := range map[int]int{0: 1, 1: 2, 2: 3, 3: 6, 4: 12, 7: 96, 10: 768, 11: FloorBatch} {
		if got := classBatch(i); got != want {
			t.Errorf("classBatch(%d) = %d, want %d", i, got, want)
		}
	}
	// 96 verifications alone and one batch of about 96 (class 7): half
	// the signatures each.
	w := (sizeClasses{0: 96, 7: 1}).signatureShares()
	if !near(w[0], 0.5) || !near(w[7], 0.5) {
		t.Errorf("shares %v, want half alone and half in class 7", w)
	}
	b := &CPUBudget{SizeClasses: sizeClasses{0: 96, 7: 1}}
	if d := b.DescribeBatches(); !strings.HasSuffix(d, ": alone 50%, 65-128 50%") {
		t.Errorf("DescribeBatches() = %q", d)
	}
	b.SizeClasses[3] = 1 // a batch of about 6 beside them: 3% of 198 signatures
	if d := b.DescribeBatches(); !strings.HasSuffix(d, ": alone 48%, 5-8 3%, 65-128 48%") {
		t.Errorf("DescribeBatches() = %q", d)
	}
	b.SizeClasses[3], b.SizeClasses[0] = 0, 20000 // one batch of 96 among 20096 signatures
	if d := b.DescribeBatches(); !strings.HasSuffix(d, ": alone 100% (other sizes under 0.5% each)") {
		t.Errorf("DescribeBatches() = %q", d)
	}
	if r := classRange(signing.BatchSizeClasses - 1); r != "1025+" {
		t.Errorf("the last class's range is %q, want 1025+", r)
	}
	if d := (&CPUBudget{}).DescribeBatches(); d != "" {
		t.Errorf("DescribeBatches() without classes = %q, want nothing", d)
	}
}
