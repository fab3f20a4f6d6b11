package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandAPIConfig: the example file's command_api section loads, zero
// values take the defaults, and a bad value is one error naming its key.
func TestCommandAPIConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.CommandAPI.AckTimeout != 10*time.Second || c.CommandAPI.MaxWaits != 64 {
		t.Fatalf("example command_api %+v, want 10s and 64", c.CommandAPI)
	}
	if d := DefaultConfig().CommandAPI; d.ackTimeout() != DefaultCommandAckTimeout || d.maxWaits() != DefaultCommandMaxWaits {
		t.Fatalf("defaults %s %d", d.ackTimeout(), d.maxWaits())
	}
	for body, want := range map[string]string{
		"command_api:\n  ack_timeout: 2m\n":   "command_api.ack_timeout: 2m0s must be between 0",
		"command_api:\n  max_waits: -1\n":     "command_api.max_waits: -1 must not be negative",
		"command_api:\n  ack_timeout: soon\n": "line 2: cannot unmarshal !!str `soon` into time.Duration",
		"command_api:\n  ack_timout: 5s\n":    "line 2: command_api: field ack_timout not found (known: ack_timeout, max_waits)",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
}
