package broker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
)

// TestClusterConfig: the cluster section of the example loads as
// documented, and a value out of bounds or a misspelt key is one error
// naming it.
func TestClusterConfig(t *testing.T) {
	cfg, err := broker.LoadConfig(filepath.Join("testdata", "signet.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.LocalOnly || cfg.Cluster.RelayPending != broker.DefaultRelayPending || cfg.Cluster.RelayPendingBytes != broker.DefaultRelayPendingBytes {
		t.Fatalf("cluster section of the example: %+v", cfg.Cluster)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"cluster:\n  relay_pending: -1\n", "cluster.relay_pending: -1"},
		{"cluster:\n  relay_pending: 99999999999\n", "cluster.relay_pending: 99999999999"},
		{"cluster:\n  relay_pending_bytes: -5\n", "cluster.relay_pending_bytes: -5"},
		{"cluster:\n  local: true\n", "cluster: field local not found"},
	} {
		path := filepath.Join(t.TempDir(), "signet.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := broker.LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err = %v, want one line naming %q", tc.yaml, err, tc.want)
		}
	}
}
