package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwinWatchWaitsForALockedStore starts "twin watch" on a store that a
// broker-like writer already holds: it says it is waiting, keeps trying
// until the file is free, then prints the twins and follows the file until
// cancelled. --once on the held store fails at once, saying to use --api.
func TestTwinWatchWaitsForALockedStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	holder, _ := storeWithStreetlight(t, path)

	err := watchTwins(context.Background(), path, "", 10*time.Millisecond, true, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "held by a running broker") || !strings.Contains(err.Error(), "--api") {
		t.Fatalf("--once on a held store: %v, want the held-by-a-broker error naming --api", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- watchTwins(ctx, path, "z1", 10*time.Millisecond, false, outW, errW)
		outW.Close()
		errW.Close()
	}()
	out, errOut := bufio.NewReader(outR), bufio.NewReader(errR)
	readLine := func(r *bufio.Reader, what string) string {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading %s: %v", what, err)
		}
		return line
	}
	if msg := readLine(errOut, "waiting line"); !strings.Contains(msg, "waiting for store "+path) || !strings.Contains(msg, "Ctrl-C") {
		t.Fatalf("stderr = %q, want a waiting line", msg)
	}
	select {
	case err := <-done:
		t.Fatalf("watch gave up on a held store: %v", err)
	default:
	}
	holder.Close() // the broker stops
	if first := readLine(out, "first twin"); !strings.Contains(first, `"device":"sl-1"`) {
		t.Fatalf("first line = %s, want sl-1's twin", first)
	}
	if msg := readLine(errOut, "free line"); !strings.Contains(msg, "free again") {
		t.Fatalf("stderr = %q, want the store free again", msg)
	}
	cancel()
	go io.Copy(io.Discard, errR)
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v, want nil after cancel", err)
	}
}
