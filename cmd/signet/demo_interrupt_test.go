package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDemoStopsCleanlyOnCtrlC runs "signet demo" as a real process, sends it
// SIGINT once its fleet is running, and checks that it exits 0 with a
// summary and leaves no temporary store behind.
func TestDemoStopsCleanlyOnCtrlC(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "demo", "--duration", "10m", "--intersections", "2")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if !signalled && strings.HasPrefix(line, "running ") {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signalled = true
		}
	}
	err = cmd.Wait()
	if !signalled {
		t.Fatalf("the demo never said it was running:\n%s\n%s", out.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("after Ctrl-C: %v (want exit 0)\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	for _, want := range []string{"stopped (interrupt)", "SUMMARY", "interrupted: every attack launched so far was refused"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "signet-demo-*"))
	if len(left) != 0 {
		t.Errorf("temporary store left behind: %v", left)
	}
}
