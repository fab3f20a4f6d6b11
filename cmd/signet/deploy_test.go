package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on deploy/signet.service
// with its ExecStart pointed at a freshly built signet: the unit's syntax,
// its hardening options and its command line must all be ones systemd
// accepts. (make test installs systemd-analyze when it is missing.)
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed: apt-get install systemd (make test installs it)")
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "deploy", "signet.service"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/signet ", "ExecStart="+bin+" ", 1)
	if text == string(unit) {
		t.Fatal("deploy/signet.service has no ExecStart=/usr/local/bin/signet line")
	}
	path := filepath.Join(dir, "signet.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The command line the unit runs must be one signet accepts.
	if out, err := exec.Command(bin, "serve", "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "--config") {
		t.Fatalf("signet serve --help: %v\n%s", err, out)
	}
}
