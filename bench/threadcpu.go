package bench

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The verify benchmark counts CPU time, not wall time: on a shared 2-core
// machine other processes take the core away mid-run, and wall time would
// charge that to whichever verifier was running. CLOCK_THREAD_CPUTIME_ID
// counts only the time this thread ran (clock_gettime(2)); the caller locks
// its goroutine to the thread so that the clock follows it.

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err) // supported by every Linux since 2.6.12
	}
	return time.Duration(ts.Nano())
}

// processCPU returns the CPU time (user + system) of the whole process,
// every thread included.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// onOneThread runs f with its goroutine locked to one OS thread and returns
// the thread's CPU time for it.
func onOneThread(f func() error) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	err := f()
	return threadCPU() - start, err
}
