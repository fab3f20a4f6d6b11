package bench

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pinning (signet bench broker --pin) puts the broker under test on CPU 0
// and the load driver on CPU 1, so that a broker's rate is its own capacity
// per core rather than what is left after the driver on shared cores.

// pinnedBrokerCPU and pinnedDriverCPU are the two cores a pinned run uses.
const (
	pinnedBrokerCPU = 0
	pinnedDriverCPU = 1
)

// canPin says why pinning cannot work here ("" if it can).
func canPin() string {
	if runtime.NumCPU() < 2 {
		return fmt.Sprintf("--pin needs two cores, this machine has %d", runtime.NumCPU())
	}
	if _, err := os.Stat("/proc/self/task"); err != nil {
		return "--pin needs Linux (/proc/self/task)"
	}
	return ""
}

// pinnedArgv runs argv on the broker's core: taskset execs the command, so
// the pid (and its CPU accounting) is the broker's own.
func pinnedArgv(argv []string) []string {
	return append([]string{"taskset", "-c", strconv.Itoa(pinnedBrokerCPU)}, argv...)
}

// pinSelf sets the CPU affinity of every thread of this process to cpus
// (nil: every CPU) and returns a function that puts back what each had.
// Threads made later inherit the affinity of the thread that makes them,
// which is one of these.
func pinSelf(cpus []int) (restore func(), err error) {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	var want unix.CPUSet
	if cpus == nil {
		for c := range runtime.NumCPU() {
			want.Set(c)
		}
	}
	for _, c := range cpus {
		want.Set(c)
	}
	saved := map[int]unix.CPUSet{}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		var old unix.CPUSet
		if unix.SchedGetaffinity(tid, &old) != nil {
			continue // the thread has exited
		}
		if err := unix.SchedSetaffinity(tid, &want); err != nil {
			continue
		}
		saved[tid] = old
	}
	return func() {
		var all unix.CPUSet
		for c := range runtime.NumCPU() {
			all.Set(c)
		}
		// Threads made while pinned have the pinned set: give every
		// thread all CPUs back (what an unpinned run has).
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, t := range tasks {
			if tid, err := strconv.Atoi(t.Name()); err == nil {
				_ = unix.SchedSetaffinity(tid, &all)
			}
		}
	}, nil
}
