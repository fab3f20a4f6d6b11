package bench

import (
	"strings"
	"testing"
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
