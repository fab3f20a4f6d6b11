package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCmdSendStaleIfVersion: "signet cmd send --if-version N" with a version
// the twin has moved on from is refused by the broker (exit 3) with the
// reason stale_version in the PUBACK, and reaches no device; the same
// command without a version is done.
func TestCmdSendStaleIfVersion(t *testing.T) {
	c := startCommandCity(t, true)
	key := filepath.Join(c.dir, "sl-1.pub.jwk")
	c.send(t, exitDone, "--zone", "z1", "--device-key", key, "set-level", `{"level":40}`)
	if r := <-c.done; r != "" {
		t.Fatalf("the device refused: %s", r)
	}
	// The command and its ack have moved the twin past version 1.
	_, errOut := c.send(t, exitBrokerRefused, "--zone", "z1", "--device-key", key, "--if-version", "1", "set-level", `{"level":41}`)
	if !strings.Contains(errOut, "PUBACK 0x87 not authorized: stale_version") {
		t.Fatalf("cmd send said %q", errOut)
	}
	c.send(t, exitDone, "--zone", "z1", "--device-key", key, "set-level", `{"level":42}`)
	if r := <-c.done; r != "" {
		t.Fatalf("the device refused: %s", r)
	}
	if got := c.dev.Stats.CmdDone.Load() + c.dev.Stats.CmdRefused.Load(); got != 2 {
		t.Fatalf("the device saw %d commands, want the 2 the broker took", got)
	}
}
