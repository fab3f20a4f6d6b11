package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseMachineTimes(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	m, err := parseMachineTimes("cpu  638474 920 222436 838434 10750 0 37767 7727 0 0")
	if err != nil {
		t.Fatal(err)
	}
	busy := time.Duration(638474+920+222436+0+37767) * 10 * time.Millisecond
	if !m.ok || m.busy != busy || m.steal != 77270*time.Millisecond {
		t.Errorf("times %+v, want busy %v (user, nice, system, irq, softirq) and steal 77.27s", m, busy)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 3 4 5 6 x 8"} {
		if _, err := parseMachineTimes(bad); err == nil || !strings.Contains(err.Error(), "/proc/stat") {
			t.Errorf("parseMachineTimes(%q) = %v, want an error naming /proc/stat", bad, err)
		}
	}
}

func TestReadMachineTimesOfThisMachine(t *testing.T) {
	m, err := readMachineTimes()
	if err != nil {
		t.Fatal(err)
	}
	if !m.ok || m.busy <= 0 {
		t.Errorf("times %+v, want this Linux machine's busy time", m)
	}
}

func TestSharesBetween(t *testing.T) {
	before := machineTimes{busy: 10 * time.Second, steal: time.Second, ok: true}
	after := machineTimes{busy: 17 * time.Second, steal: 1500 * time.Millisecond, ok: true}
	// A 4 s window on 2 CPUs is 8 CPU-seconds. The machine was busy for 7
	// of them, the broker for 3 and the driver for 2, so the rest for 2;
	// the hypervisor stole 0.5.
	s := sharesBetween(before, after, 3*time.Second, 2*time.Second, 4*time.Second, 2)
	if !near(s.others, 2.0/8) || !near(s.steal, 0.5/8) {
		t.Errorf("shares %+v, want others 0.25 and steal 0.0625", s)
	}
	// Ticks of 10 ms can put broker and driver above the machine's busy
	// time: never a negative share.
	if s := sharesBetween(before, after, 5*time.Second, 3*time.Second, 4*time.Second, 2); s.others != 0 {
		t.Errorf("others %v when broker and driver account for all, want 0", s.others)
	}
	if s := sharesBetween(machineTimes{}, after, time.Second, time.Second, time.Second, 2); s != (machineShares{}) {
		t.Errorf("shares %+v without a first reading, want none", s)
	}
}

func TestDisturbedNote(t *testing.T) {
	quiet := ConfigResult{Name: "strict", OthersBusy: 0.01, Steal: 0.02, HalfOthersBusy: 0.03}
	if n := disturbedNote("", quiet); n != "" {
		t.Errorf("a quiet run is noted: %q", n)
	}
	busy := ConfigResult{Name: "strict", OthersBusy: 0.02, Steal: 0.01, HalfOthersBusy: 0.09, HalfSteal: 0.04}
	n := disturbedNote("round 2/3: ", busy)
	if !strings.HasPrefix(n, "round 2/3: strict: the rest of the machine took 3% of its CPUs during the max-rate window and 13% at half load") || !strings.Contains(n, "compare its figures with care") {
		t.Errorf("note %q", n)
	}
}
