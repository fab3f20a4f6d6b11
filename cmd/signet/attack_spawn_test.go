package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildAttacker builds the real signet binary, which --spawn runs as its
// broker, and returns its path.
func buildAttacker(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runSpawn runs "signet attack --spawn" with args and returns its output,
// its exit code and the rows of its results.json.
func runSpawn(t *testing.T, bin string, args ...string) (string, int, []scenarioRow) {
	t.Helper()
	dir := t.TempDir()
	report := filepath.Join(dir, "report")
	cmd := exec.Command(bin, append([]string{"attack", "--spawn", "--report", report}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	b, err := cmd.CombinedOutput()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rows []scenarioRow
	if data, err := os.ReadFile(filepath.Join(report, reportJSON)); err == nil {
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{reportTable, reportPlot} {
			if st, err := os.Stat(filepath.Join(report, f)); err != nil || st.Size() == 0 {
				t.Errorf("--report wrote no %s: %v", f, err)
			}
		}
	}
	return string(b), code, rows
}

// TestAttackSpawnQuick runs "signet attack --spawn" on a few scenarios: the
// command starts its own broker, every hostile message is refused and
// recorded as a security event (forged commands from a stolen operator
// console included), the viewer receives every honest reading
// sent meanwhile, the broker's RSS is measured, and the report is written.
// A bound that fails (an RSS limit of 1 MiB) makes it exit 1.
func TestAttackSpawnQuick(t *testing.T) {
	bin := buildAttacker(t)
	want := []string{"replay", "reboot-replay", "tamper-header", "revoked-key", "expired-key", "command-expired", "command-replayed", "cross-zone-subscribe"}
	out, code, rows := runSpawn(t, bin, "--scenario", strings.Join(want, ","), "--count", "15", "--rate", "200")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d scenarios reported, want %d:\n%s", len(rows), len(want), out)
	}
	for i, r := range rows {
		if r.Scenario != want[i] || !r.Pass || r.Accepted != 0 {
			t.Errorf("%s: pass %v, accepted %d; want %s held with 0 accepted", r.Scenario, r.Pass, r.Accepted, want[i])
		}
		if r.HonestSent == 0 || r.HonestDelivered != r.HonestSent {
			t.Errorf("%s: the reader got %d of %d honest readings, want all", r.Scenario, r.HonestDelivered, r.HonestSent)
		}
		if r.PeakRSSMiB <= 0 {
			t.Errorf("%s: no peak RSS measured", r.Scenario)
		}
		if r.Scenario == "cross-zone-subscribe" {
			continue // refused deliveries, not messages: nothing to record
		}
		if r.Sent != 15 || r.Refused != 15 || r.EventsStandFor < uint64(r.Refused) {
			t.Errorf("%s: sent %d refused %d, events stand for %d; want 15 sent, refused, each recorded", r.Scenario, r.Sent, r.Refused, r.EventsStandFor)
		}
	}
	out, code, rows = runSpawn(t, bin, "--scenario", "replay", "--count", "5", "--rate", "200", "--rss-limit", "1")
	if code != 1 || len(rows) != 1 || rows[0].Pass || !strings.Contains(out, "FAILED") {
		t.Errorf("with --rss-limit 1: exit %d, rows %+v; want exit 1 and the scenario FAILED:\n%s", code, rows, out)
	}
}

// TestAttackFloodsHoldTheirBounds runs the floods against a spawned
// broker: a connect flood with forged tokens, a publish flood with forged
// signatures over 16 sessions, and batches with 1% bad signatures. None
// may get in, the honest fleet must keep at least 95% of its readings
// delivered (the poisoned batches 99.9%), and none of the compromised
// device's own valid readings beside the poisoned ones may be refused.
func TestAttackFloodsHoldTheirBounds(t *testing.T) {
	bin := buildAttacker(t)
	want := []string{"connect-flood", "publish-flood", "poisoned-batches"}
	out, code, rows := runSpawn(t, bin, "--scenario", strings.Join(want, ","), "--flood", "400", "--rate", "200")
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, out)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d scenarios reported, want %d:\n%s", len(rows), len(want), out)
	}
	for _, r := range rows {
		if !r.Pass || r.Accepted != 0 || r.Refused != r.Sent || r.Sent == 0 || r.Collateral != 0 {
			t.Errorf("%s: sent %d refused %d accepted %d collateral %d pass %v; want every one refused, none of the valid ones", r.Scenario, r.Sent, r.Refused, r.Accepted, r.Collateral, r.Pass)
		}
		if r.HonestSent == 0 || r.HonestShare < r.Floor {
			t.Errorf("%s: honest %d of %d delivered, under the %.1f%% floor", r.Scenario, r.HonestDelivered, r.HonestSent, 100*r.Floor)
		}
	}
	if rows[0].Sent != 400 || rows[1].Sent != 400 {
		t.Errorf("floods sent %d and %d, want 400 each", rows[0].Sent, rows[1].Sent)
	}
}
