package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet-city/signet/bench"
)

// TestBenchSoakSmoke runs the real binary's "bench soak --duration 20s":
// honest and hostile load together against its own signet serve child. The
// samples must have been taken (memory, heap, goroutines all read), every
// honest message accepted, every hostile one refused, and no error counted.
// Whether memory grew is for the 30-minute run, not for CI.
func TestBenchSoakSmoke(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "soak.json")
	cmd := exec.Command(bin, "bench", "soak", "--duration", "20s", "--devices", "8", "--json", jsonPath, "--report", filepath.Join(dir, "report"))
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("signet bench soak: %v\n%s", err, out)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.SoakReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) < 5 {
		t.Fatalf("%d samples in 20 s at one per 2 s, want at least 5\n%s", len(rep.Samples), out)
	}
	for _, s := range rep.Samples {
		if s.RSSBytes == 0 || s.HeapInuse == 0 || s.Goroutines == 0 {
			t.Errorf("sample at %.0f s: %+v: every reading must be taken", s.AtSeconds, s)
		}
	}
	if n := rep.Errors.Total(); n != 0 {
		t.Errorf("%d errors: %+v\n%s", n, rep.Errors, out)
	}
	if rep.HonestAcked == 0 || rep.HostileSent == 0 || rep.HostileRefused != rep.HostileSent {
		t.Errorf("honest accepted %d; hostile sent %d, refused %d: honest load must flow and every attack be refused\n%s", rep.HonestAcked, rep.HostileSent, rep.HostileRefused, out)
	}
	if rep.RSS == nil || rep.Heap == nil || rep.Goroutines == nil {
		t.Errorf("no growth verdict computed from %d samples", len(rep.Samples))
	}
	for _, p := range []string{bench.PlotSoakMemory, bench.PlotSoakGoroutines} {
		if _, err := os.Stat(filepath.Join(dir, "report", p)); err != nil {
			t.Errorf("report: %v", err)
		}
	}
}
