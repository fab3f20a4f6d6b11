package broker

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkersRunEachJobOnce: every job handed to the pool runs exactly once,
// whether an idle worker takes it or a new one starts.
func TestWorkersRunEachJobOnce(t *testing.T) {
	w := newWorkers(time.Millisecond)
	const n = 2000
	var runs [n]atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		w.do(func() {
			runs[i].Add(1)
			wg.Done()
		})
	}
	wg.Wait()
	for i := range runs {
		if got := runs[i].Load(); got != 1 {
			t.Fatalf("job %d ran %d times", i, got)
		}
	}
}
