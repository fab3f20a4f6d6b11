package bench

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Machine says where figures were measured, for reports.
type Machine struct {
	CPU       string    `json:"cpu"`
	Cores     int       `json:"cores"`
	GoVersion string    `json:"go_version"`
	OS        string    `json:"os"`
	Commit    string    `json:"commit"`
	Time      time.Time `json:"time"`
}

// DescribeMachine reads the CPU model (/proc/cpuinfo), the core count, the
// Go version and the commit: the binary's own VCS stamp, else the git
// working tree this runs in ("+dirty" when it has changes), else "unknown".
func DescribeMachine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, Commit: "unknown", Time: time.Now().UTC().Truncate(time.Second)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			m.Commit = rev[:min(12, len(rev))] + dirty
			return m
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "+dirty"
		}
	}
	return m
}
