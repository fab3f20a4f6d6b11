package broker

import (
	"os"
	"runtime/debug"
)

// The garbage collector policy of a broker process. The broker's live heap
// is small (tens of MiB for a thousand devices) and it allocates for every
// message, so Go's default target (GOGC=100) collects several times a
// second, and each collection's mark phase, tens of milliseconds on two
// cores with two goroutines per connection to scan, holds up the messages
// in flight. `signet bench broker`, p99 publish-to-PUBACK at half load,
// 1000 devices: plain mochi 7-44 ms at 400 and 2 ms at 1000; strict 24-32
// ms at 400 and 11-16 ms at 1000. The memory limit is the safety net: as
// the heap nears it, the collector runs as often as it must.
const (
	// DefaultGCPercent lets the heap grow to eleven times its live size
	// between collections.
	DefaultGCPercent = 1000
	// DefaultMemoryLimitMiB is the soft limit of the Go heap and runtime
	// (runtime/debug.SetMemoryLimit).
	DefaultMemoryLimitMiB = 1024
)

// ApplyGCPolicy sets the collector target percent and the soft memory
// limit (0: the defaults above) for this process. The GOGC and GOMEMLIMIT
// environment variables, when set, win over each.
func ApplyGCPolicy(percent, memoryLimitMiB int) {
	if os.Getenv("GOGC") == "" {
		if percent <= 0 {
			percent = DefaultGCPercent
		}
		debug.SetGCPercent(percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		if memoryLimitMiB <= 0 {
			memoryLimitMiB = DefaultMemoryLimitMiB
		}
		debug.SetMemoryLimit(int64(memoryLimitMiB) << 20)
	}
}
