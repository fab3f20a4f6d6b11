package broker

import (
	"runtime"
	"testing"
)

func TestApplyProcsPolicy(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })

	t.Setenv("GOMAXPROCS", "")
	runtime.SetDefaultGOMAXPROCS()
	want := DefaultProcsPerCPU * runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(1) // the default is Go's, not whatever was set before
	if got := ApplyProcsPolicy(0); got != want || runtime.GOMAXPROCS(0) != want {
		t.Errorf("default: ApplyProcsPolicy = %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), want)
	}
	if got := ApplyProcsPolicy(3); got != 3 || runtime.GOMAXPROCS(0) != 3 {
		t.Errorf("configured 3: ApplyProcsPolicy = %d, GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}

	// The environment wins: nothing is changed.
	t.Setenv("GOMAXPROCS", "5")
	runtime.GOMAXPROCS(5)
	if got := ApplyProcsPolicy(7); got != 5 || runtime.GOMAXPROCS(0) != 5 {
		t.Errorf("with GOMAXPROCS=5 set: ApplyProcsPolicy = %d, GOMAXPROCS %d; want 5 untouched", got, runtime.GOMAXPROCS(0))
	}
}
