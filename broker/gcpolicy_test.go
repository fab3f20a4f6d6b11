package broker

import (
	"runtime/debug"
	"testing"
)

func TestMochiOptionsBoundTheWriteQueue(t *testing.T) {
	if got := MochiOptions(0, nil).Capabilities.MaximumClientWritesPending; got != DefaultMaxPendingWrites {
		t.Errorf("default pending writes = %d, want %d", got, DefaultMaxPendingWrites)
	}
	if got := MochiOptions(7, nil).Capabilities.MaximumClientWritesPending; got != 7 {
		t.Errorf("pending writes = %d, want 7", got)
	}
}

func TestApplyGCPolicy(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	ApplyGCPolicy(0, 0)
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); p != DefaultGCPercent || l != DefaultMemoryLimitMiB<<20 {
		t.Errorf("defaults: GC percent %d, limit %d; want %d and %d", p, l, DefaultGCPercent, DefaultMemoryLimitMiB<<20)
	}
	ApplyGCPolicy(250, 64)
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); p != 250 || l != 64<<20 {
		t.Errorf("configured: GC percent %d, limit %d; want 250 and %d", p, l, 64<<20)
	}

	// The environment wins: nothing is changed.
	t.Setenv("GOGC", "300")
	t.Setenv("GOMEMLIMIT", "2GiB")
	debug.SetGCPercent(123)
	debug.SetMemoryLimit(456 << 20)
	ApplyGCPolicy(250, 64)
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); p != 123 || l != 456<<20 {
		t.Errorf("with GOGC and GOMEMLIMIT set: GC percent %d, limit %d; want them untouched (123, %d)", p, l, 456<<20)
	}
}
