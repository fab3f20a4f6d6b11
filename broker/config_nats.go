package broker

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// NATSConfig is the nats section: how a broker whose store is
// nats://host:4222[,...] reaches its JetStream cluster (devices/natsstore).
// It is ignored when the store is a bbolt file.
type NATSConfig struct {
	// Creds is a NATS credentials file (JWT and nkey seed), or "".
	Creds string `yaml:"creds"`
	// CA is a PEM bundle that verifies the NATS servers' TLS certificates,
	// or "" for the system's roots.
	CA string `yaml:"ca"`
	// Replicas is the replication factor of the buckets and streams the
	// broker creates (0: 3, which survives the loss of one NATS node).
	Replicas int `yaml:"replicas"`
	// Timeout bounds one JetStream request (0: 5s).
	Timeout time.Duration `yaml:"timeout"`
	// Outage is how long a store write waits for NATS to come back before
	// the broker stops accepting (0: 30s); meanwhile held leases serve.
	Outage time.Duration `yaml:"outage"`
}

// Bounds of the nats section: JetStream replicates at most 5 ways; a
// request that may wait more than a minute, or a broker that waits an hour
// for NATS while holding messages unacknowledged, is surely a typo.
const (
	maxNATSReplicas = 5
	maxNATSTimeout  = time.Minute
	maxNATSOutage   = time.Hour
)

// UnmarshalYAML reads the section and refuses a value out of bounds,
// naming the key.
func (c *NATSConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain NATSConfig // without this method, so Decode does not recurse
	if err := checkKnownKeys[plain](n, "nats"); err != nil {
		return err
	}
	var v plain
	if err := n.Decode(&v); err != nil {
		return err
	}
	if v.Replicas < 0 || v.Replicas > maxNATSReplicas {
		return fmt.Errorf("line %d: nats.replicas: %d, want 1 to %d (0: 3)", n.Line, v.Replicas, maxNATSReplicas)
	}
	if v.Timeout < 0 || v.Timeout > maxNATSTimeout {
		return fmt.Errorf("line %d: nats.timeout: %s, want up to %s (0: 5s)", n.Line, v.Timeout, maxNATSTimeout)
	}
	if v.Outage < 0 || v.Outage > maxNATSOutage {
		return fmt.Errorf("line %d: nats.outage: %s, want up to %s (0: 30s)", n.Line, v.Outage, maxNATSOutage)
	}
	*c = NATSConfig(v)
	return nil
}
