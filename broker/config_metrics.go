package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// MetricsTokenSHA256 is the metrics_token_sha256 config key: the hex SHA-256
// of the bearer token that GET /metrics then requires. Empty (the default)
// leaves /metrics open to anyone who can reach the HTTP listener, as a
// Prometheus endpoint usually is; set it when that listener is reachable
// from outside the box (metrics_auth.go).
type MetricsTokenSHA256 string

// UnmarshalYAML reads 64 hex digits and refuses anything else, naming the key.
func (m *MetricsTokenSHA256) UnmarshalYAML(n *yaml.Node) error {
	var v string
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: metrics_token_sha256: want 64 hex digits, the SHA-256 of the bearer token", n.Line)
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		*m = ""
		return nil
	}
	if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("line %d: metrics_token_sha256: want 64 hex digits, the SHA-256 of the bearer token (make one with: signet token new)", n.Line)
	}
	*m = MetricsTokenSHA256(v)
	return nil
}
