package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sampleChild reads the broker child's resident memory (VmRSS in
// /proc/PID/status, proc(5)) and, from its /metrics, the Go heap in use and
// the goroutines (the Go collector's go_memstats_heap_inuse_bytes and
// go_goroutines).
func sampleChild(ctx context.Context, c *serveChild) (SoakSample, error) {
	var s SoakSample
	rss, err := vmRSS(c.pid())
	if err != nil {
		return s, err
	}
	s.RSSBytes = rss
	m, err := scrape(ctx, c.http, "go_memstats_heap_inuse_bytes", "go_goroutines")
	if err != nil {
		return s, err
	}
	s.HeapInuse, s.Goroutines = uint64(m["go_memstats_heap_inuse_bytes"]), uint64(m["go_goroutines"])
	return s, nil
}

// vmRSS is a process's resident set size in bytes.
func vmRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("broker memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseUint(f[0], 10, 64)
				if err == nil {
					return kb << 10, nil
				}
			}
			return 0, fmt.Errorf("broker memory: odd VmRSS line %q", line)
		}
	}
	return 0, fmt.Errorf("broker memory: no VmRSS in /proc/%d/status", pid)
}

// scrape reads unlabelled gauges from a Prometheus text exposition at
// http://addr/metrics. A missing gauge is an error: the broker must export
// the Go collector.
func scrape(ctx context.Context, addr string, names ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: HTTP %d", resp.StatusCode)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && want[f[0]] {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("metrics: no %s (does the broker export the Go collector?)", n)
		}
	}
	return out, nil
}
