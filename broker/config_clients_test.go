package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClientsConfig: the example's clients: section loads as the defaults,
// and each bad value is refused naming its field.
func TestClientsConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Clients != (ClientsConfig{}).resolved() {
		t.Fatalf("example clients: %+v, want the defaults %+v", c.Clients, (ClientsConfig{}).resolved())
	}
	cases := map[string]string{
		"clients: {max_client_id_bytes: -1}":                "clients.max_client_id_bytes: -1 must not be negative",
		"clients: {max_client_id_bytes: 10}":                "clients.max_client_id_bytes: 10 is below the 23 bytes",
		"clients: {max_client_id_bytes: 70000}":             "clients.max_client_id_bytes: 70000 is more than MQTT's 65535",
		"clients: {max_sessions: -2}":                       "clients.max_sessions",
		"clients: {max_session_expiry_seconds: 4294967296}": "clients.max_session_expiry_seconds",
		"clients: {retained_total_bytes: -1}":               "clients.retained_total_bytes",
		"clients: {rate_idle_seconds: -1}":                  "clients.rate_idle_seconds",
		"clients: {colour: blue}":                           "field colour not found",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error naming %q", body, err, want)
		}
	}
}
