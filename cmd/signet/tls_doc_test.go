package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTLSWalkthrough runs docs/tls.md as written: every ```sh block in
// order, in one empty folder, with the signet just built on PATH. The block
// that starts the broker runs in the background until the test ends (the
// walk-through puts it in a terminal of its own); the test waits for its
// "listening" line before going on. The last blocks log in over mTLS with
// the pinned certificate and are refused without one.
func TestTLSWalkthrough(t *testing.T) {
	for _, tool := range []string{"openssl", "mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make test installs openssl and mosquitto-clients)", tool)
		}
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "tls.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 6 {
		t.Fatalf("docs/tls.md has %d sh blocks; the walk-through has at least 6", len(blocks))
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "signet"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Each block sees the variables the ones before it set (pin=...), as in
	// one shell; their commands are not run again.
	var vars strings.Builder
	assignment := regexp.MustCompile(`^[a-z_]+=`)
	var last string
	for i, b := range blocks {
		code := b[1]
		if strings.HasPrefix(code, "signet serve ") {
			serve := exec.Command("bash", "-c", "exec "+strings.TrimSpace(code))
			serve.Dir, serve.Env = work, env
			stdout, err := serve.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			serve.Stderr = &stderr
			if err := serve.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				serve.Process.Signal(os.Interrupt)
				serve.Wait()
			})
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() || !strings.Contains(lines.Text(), "mqtt+tls 127.0.0.1:8883") {
				t.Fatalf("block %d: the broker's first line %q, want its TLS listener; stderr:\n%s", i+1, lines.Text(), stderr.String())
			}
			go func() {
				for lines.Scan() {
				}
			}()
			continue
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", vars.String()+code)
		cmd.Dir, cmd.Env = work, env
		cmd.WaitDelay = time.Minute
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docs/tls.md block %d failed: %v\n%s\n%s", i+1, err, code, out)
		}
		last = string(out)
		for _, line := range strings.Split(code, "\n") {
			if assignment.MatchString(line) {
				vars.WriteString(line + "\n")
			}
		}
		if i == len(blocks)-2 && !strings.Contains(last, "over mTLS") {
			t.Fatalf("the certificate login block received %q, want the message it published", last)
		}
	}
	if !strings.Contains(last, "refused without a certificate") {
		t.Fatalf("last block printed %q", last)
	}
}
