package broker

import "time"

// workers run the verify hook's per-message work (process) on goroutines
// that outlive one message and wait for the next while idle. A fresh
// goroutine per message grew its stack through mochi's delivery path every
// time: runtime.newstack was 9% of the strict broker's CPU in `signet bench
// broker --profile`.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only to an idle worker
	idle time.Duration
}

// workerIdle is how long a worker waits for more work before it exits.
const workerIdle = 10 * time.Second

func newWorkers(idle time.Duration) *workers {
	return &workers{jobs: make(chan func()), idle: idle}
}

// do runs f on an idle worker, or on a new one if none is idle.
func (w *workers) do(f func()) {
	select {
	case w.jobs <- f:
	default:
		go w.loop(f)
	}
}

func (w *workers) loop(f func()) {
	t := time.NewTimer(w.idle)
	defer t.Stop()
	for {
		f()
		t.Reset(w.idle)
		select {
		case f = <-w.jobs:
		case <-t.C:
			return
		}
	}
}
