package broker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
)

// TestNATSConfig: the nats section of the example loads as documented, and
// a value out of bounds is one error naming its key.
func TestNATSConfig(t *testing.T) {
	cfg, err := broker.LoadConfig(filepath.Join("testdata", "signet.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Replicas != 3 || cfg.NATS.Timeout != 5*time.Second || cfg.NATS.Outage != 30*time.Second {
		t.Fatalf("nats section of the example: %+v", cfg.NATS)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"nats:\n  replicas: 7\n", "nats.replicas: 7"},
		{"nats:\n  replicas: -1\n", "nats.replicas: -1"},
		{"nats:\n  timeout: 2h\n", "nats.timeout: 2h0m0s"},
		{"nats:\n  outage: -1s\n", "nats.outage: -1s"},
		{"nats:\n  colour: red\n", "field colour not found"},
	} {
		path := filepath.Join(t.TempDir(), "signet.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := broker.LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want it to name %q", tc.yaml, err, tc.want)
		}
	}
}
