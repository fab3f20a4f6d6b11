package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGHUPReloadsUsers runs a real "signet serve --config", then edits the
// config and sends the process SIGHUP: a user's role changes without a
// restart (a viewer's token is refused the security events, the same token
// as an auditor's gets them), and a bad config is refused with the old one
// kept (the token still works).
func TestSIGHUPReloadsUsers(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	httpAddr := freeAddr(t)
	const token = "reload-test-token-0123456789"
	sum := sha256.Sum256([]byte(token))
	cfgPath := filepath.Join(dir, "signet.yaml")
	writeConfig := func(role string) {
		t.Helper()
		cfg := fmt.Sprintf("store: %s\ncreate: true\nmqtt: 127.0.0.1:0\nhttp: %s\nusers:\n  - name: ops\n    role: %s\n    zones: [z1]\n    token_sha256: %s\n",
			filepath.Join(dir, "s.db"), httpAddr, role, hex.EncodeToString(sum[:]))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("viewer")
	serve := exec.Command(bin, "serve", "--config", cfgPath)
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	serve.Stderr = os.Stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(prefix string) string {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("serve exited before printing %q", prefix)
				}
				if strings.HasPrefix(l, prefix) {
					return l
				}
			case <-deadline:
				t.Fatalf("no line %q from serve", prefix)
			}
		}
	}
	waitLine("signet: listening on")
	events := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := events(); code != http.StatusForbidden {
		t.Fatalf("a viewer's token got %d from /api/v1/events, want 403", code)
	}

	writeConfig("auditor")
	if err := serve.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if l := waitLine("signet: SIGHUP:"); !strings.Contains(l, "reloaded") {
		t.Fatalf("after SIGHUP: %q, want the config reloaded", l)
	}
	if code := events(); code != http.StatusOK {
		t.Fatalf("the same token as an auditor's got %d, want 200", code)
	}

	writeConfig("emperor") // not a role
	if err := serve.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if l := waitLine("signet: SIGHUP:"); strings.Contains(l, "reloaded") || !strings.Contains(l, "role") {
		t.Fatalf("a bad config on SIGHUP: %q, want it refused naming the role", l)
	}
	if code := events(); code != http.StatusOK {
		t.Fatalf("after a refused reload the auditor's token got %d, want 200 (the old config kept)", code)
	}
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
