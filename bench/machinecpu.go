package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// machineTimes is the machine's CPU time so far, all CPUs together, from
// the first line of /proc/stat (proc(5), in USER_HZ like /proc/PID/stat):
// busy is time spent on anything but idle and iowait, steal the time the
// hypervisor ran something else while this machine's CPUs wanted to run.
type machineTimes struct {
	busy, steal time.Duration
	ok          bool // read; false where /proc/stat is missing
}

// readMachineTimes reads /proc/stat (ok false, no error, where there is
// none).
func readMachineTimes() (machineTimes, error) {
	f, err := os.Open("/proc/stat")
	if errors.Is(err, os.ErrNotExist) {
		return machineTimes{}, nil
	}
	if err != nil {
		return machineTimes{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return machineTimes{}, fmt.Errorf("/proc/stat: empty: %v", sc.Err())
	}
	return parseMachineTimes(sc.Text())
}

// parseMachineTimes parses /proc/stat's aggregate line: "cpu" and then
// user, nice, system, idle, iowait, irq, softirq, steal (guest time is
// already counted in user and nice).
func parseMachineTimes(line string) (machineTimes, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineTimes{}, fmt.Errorf("/proc/stat: first line %q: want cpu and at least 8 times", line)
	}
	var t [8]uint64
	for i := range t {
		v, err := strconv.ParseUint(f[i+1], 10, 64)
		if err != nil {
			return machineTimes{}, fmt.Errorf("/proc/stat: time %d of %q: %w", i+1, line, err)
		}
		t[i] = v
	}
	tick := func(n uint64) time.Duration { return time.Duration(n) * time.Second / userHZ }
	return machineTimes{busy: tick(t[0] + t[1] + t[2] + t[5] + t[6]), steal: tick(t[7]), ok: true}, nil
}

// machineShares is how the machine's CPUs were used in a window beside
// the broker and the driver, as shares of all of them over the window.
type machineShares struct {
	others, steal float64
}

// sharesBetween is the window's shares: others is the machine's busy time
// less what the broker and the driver spent (other processes, and the
// kernel's work for nobody's account), steal the hypervisor's. Zero when
// either reading is missing.
func sharesBetween(before, after machineTimes, broker, driver, window time.Duration, cpus int) machineShares {
	if !before.ok || !after.ok || window <= 0 || cpus <= 0 {
		return machineShares{}
	}
	all := window.Seconds() * float64(cpus)
	others := (after.busy - before.busy - broker - driver).Seconds()
	return machineShares{others: max(0, others) / all, steal: max(0, (after.steal-before.steal).Seconds()) / all}
}
