package broker

import (
	"os"
	"runtime"
)

// The scheduler policy of a broker process. A strict broker's goroutines
// take turns on few Ps: connection goroutines that wait for their
// verification batch and their durable commit, batch leaders that hold
// a P for a whole batch, and one committer that blocks in fdatasync. With
// one P per CPU, whatever holds a P makes the rest queue, and commits stay
// small. With two per CPU, the kernel interleaves them instead. Measured
// with `signet bench broker --modes strict --gateways 0 --seconds 4`, 1000
// devices, two CPUs, six alternating runs each, medians: 13.5k msg/s with
// 2 Ps, 18.7k with 4 (plain mochi: within the noise of each other); the
// store took 91 messages per transaction with 4 against 16 with 2. p99
// publish-to-PUBACK at one rate, three alternating runs each of the same
// command with --rate 7000, with and without GOMAXPROCS=2 set: 28.3 ms with
// 2 Ps, 18.0 ms with 4.
const DefaultProcsPerCPU = 2

// ApplyProcsPolicy sets GOMAXPROCS to procs (0: DefaultProcsPerCPU times
// Go's own default, which counts the CPUs this process may use, cgroup
// limits included) and returns the value in force. The GOMAXPROCS
// environment variable, when set, wins. Call it before starting a Server:
// its verifier takes its number of batch leaders, one per CPU and at most
// one per P, when it is made (signing.DefaultWorkers).
func ApplyProcsPolicy(procs int) int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	if procs <= 0 {
		runtime.SetDefaultGOMAXPROCS()
		procs = DefaultProcsPerCPU * runtime.GOMAXPROCS(0)
	}
	runtime.GOMAXPROCS(procs)
	return procs
}
