package bench

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The load driver holds the whole signed corpus (hundreds of MiB of small
// objects), so each of its garbage collections takes tens of milliseconds
// and slows its senders, which an open-loop run would count as the
// broker's latency. During a run its collector is off, with a memory limit
// a little over a GiB above the heap as a safety net: Go collects anyway if
// the run allocates that much.

var quiet struct {
	mu      sync.Mutex
	users   int
	percent int
	limit   int64
}

// quietGC turns the collector off until the returned function is called;
// nested and concurrent runs share one pause.
func quietGC() (restore func()) {
	quiet.mu.Lock()
	defer quiet.mu.Unlock()
	if quiet.users == 0 {
		runtime.GC() // start the run with nothing left to collect
		quiet.percent = debug.SetGCPercent(-1)
		quiet.limit = debug.SetMemoryLimit(heapBytes() + 1<<30)
	}
	quiet.users++
	var once sync.Once
	return func() {
		once.Do(func() {
			quiet.mu.Lock()
			defer quiet.mu.Unlock()
			if quiet.users--; quiet.users == 0 {
				debug.SetGCPercent(quiet.percent)
				debug.SetMemoryLimit(quiet.limit)
			}
		})
	}
}

// heapBytes is the memory the Go runtime has mapped for the heap's objects.
func heapBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
