package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/signet-city/signet/bench"
)

// TestBenchFaultsQuick is the fault harness's CI smoke: the real signet
// binary runs "bench faults --quick", which SIGKILLs its own "signet serve"
// child under signed load three times and then fills its disk and makes its
// store read-only. No replay may be accepted, no acknowledged update lost,
// every restart must open the store, and honest devices must be served in
// every round (the attack failing is not enough: the city must keep working).
func TestBenchFaultsQuick(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	jsonPath := filepath.Join(dir, "faults.json")
	cmd := exec.Command(bin, "bench", "faults", "--quick", "--json", jsonPath, "--report", filepath.Join(dir, "report"))
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("signet bench faults --quick: %v\n%s", err, out)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.FaultReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rounds) != 3 {
		t.Fatalf("%d rounds, want 3\n%s", len(rep.Rounds), out)
	}
	if rep.ReplaysAccepted != 0 || rep.LostAcked != 0 || rep.FailedStarts != 0 {
		t.Errorf("replays accepted %d, acknowledged updates lost %d, failed starts %d: all must be 0\n%s", rep.ReplaysAccepted, rep.LostAcked, rep.FailedStarts, out)
	}
	if rep.HonestRefusedLoad != 0 {
		t.Errorf("%d honest messages refused under load: honest devices must be served\n%s", rep.HonestRefusedLoad, out)
	}
	for _, r := range rep.Rounds {
		if !r.Restarted || r.Replayed == 0 {
			t.Errorf("round %d: restarted %v, %d replays sent: every round must restart and replay\n%s", r.Round, r.Restarted, r.Replayed, out)
		}
		if r.HonestAfter == 0 || r.HonestRefused != 0 {
			t.Errorf("round %d: honest devices sent %d after the restart, %d refused: they must be served\n%s", r.Round, r.HonestAfter, r.HonestRefused, out)
		}
	}
	if len(rep.Disk) != 2 {
		t.Fatalf("%d disk faults, want 2 (full disk, read-only store)\n%s", len(rep.Disk), out)
	}
	for _, d := range rep.Disk {
		if !d.Recovered || d.LostAcked != 0 || d.LostEnrolled != 0 || d.ReplaysAccepted != 0 || d.HonestRefused != 0 || d.HonestAfter == 0 {
			t.Errorf("%s: %+v: the broker must recover with nothing acknowledged lost and serve honest devices\n%s", d.Name, d, out)
		}
	}
	if full := rep.Disk[0]; full.Refused == 0 && full.EnrolRefused == 0 {
		t.Errorf("full disk: nothing was refused, so the fault was never felt: %+v", full)
	}
	if _, err := os.Stat(filepath.Join(dir, "report", bench.PlotFaults)); err != nil {
		t.Errorf("report: %v", err)
	}
}
