package bench

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinSelf: pinning moves every thread of the process to the driver's
// core, and restoring gives them every core back.
func TestPinSelf(t *testing.T) {
	if why := canPin(); why != "" {
		t.Fatal(why) // CI machines have two cores
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	restore, err := pinSelf([]int{pinnedDriverCPU})
	if err != nil {
		t.Fatal(err)
	}
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.Count() != 1 || !got.IsSet(pinnedDriverCPU) {
		t.Fatalf("pinned thread runs on %d CPUs (CPU %d set: %v)", got.Count(), pinnedDriverCPU, got.IsSet(pinnedDriverCPU))
	}
	restore()
	if err := unix.SchedGetaffinity(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.Count() != runtime.NumCPU() {
		t.Fatalf("after restore the thread runs on %d of %d CPUs", got.Count(), runtime.NumCPU())
	}
}

// TestPinnedRowsAreTheirOwnRatio: pinned rows give pinned_ratio_vs_plain
// and never stand in for the shared-core rows.
func TestPinnedRowsAreTheirOwnRatio(t *testing.T) {
	f := figuresOf([]ConfigResult{
		{Mode: ModePlain, MsgsPerSec: 1000},
		{Mode: ModeStrict, MsgsPerSec: 400},
		{Mode: ModePlain, Pinned: true, MsgsPerSec: 500},
		{Mode: ModeStrict, Pinned: true, MsgsPerSec: 300},
	}, 1)
	if f.RatioVsPlain != 0.4 || f.PinnedRatioVsPlain != 0.6 || f.PlainMsgsPerSec != 1000 {
		t.Fatalf("figures %+v: want 0.4 shared, 0.6 pinned, plain 1000", f)
	}
}
