package broker

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// ClusterConfig is the cluster section: how brokers sharing one JetStream
// store (a nats:// store) make one MQTT namespace, each delivering the
// messages the others verified (cluster_relay.go). It is ignored when the
// store is a bbolt file.
type ClusterConfig struct {
	// LocalOnly keeps this broker out of the namespace: it neither sends
	// its verified messages to the other brokers nor delivers theirs.
	LocalOnly bool `yaml:"local_only"`
	// RelayPending bounds the other brokers' messages waiting to be
	// delivered here (0: DefaultRelayPending); beyond it they are dropped
	// and counted, so that a flood at one broker costs another a bounded
	// queue, never its memory.
	RelayPending int `yaml:"relay_pending"`
	// RelayPendingBytes bounds the same queue in bytes (0:
	// DefaultRelayPendingBytes).
	RelayPendingBytes int `yaml:"relay_pending_bytes"`
}

// Defaults and bounds of the cluster section.
const (
	DefaultRelayPending      = 65536
	DefaultRelayPendingBytes = 64 << 20
	maxRelayPending          = 1 << 24
	maxRelayPendingBytes     = 1 << 32
)

// UnmarshalYAML reads the section and refuses a value out of bounds,
// naming the key.
func (c *ClusterConfig) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "local_only", "relay_pending", "relay_pending_bytes":
			default:
				return fmt.Errorf("line %d: cluster: field %s not found (local_only, relay_pending, relay_pending_bytes)", k.Line, k.Value)
			}
		}
	}
	type plain ClusterConfig
	var v plain
	if err := n.Decode(&v); err != nil {
		return err
	}
	if v.RelayPending < 0 || v.RelayPending > maxRelayPending {
		return fmt.Errorf("line %d: cluster.relay_pending: %d, want 1 to %d (0: %d)", n.Line, v.RelayPending, maxRelayPending, DefaultRelayPending)
	}
	if v.RelayPendingBytes < 0 || v.RelayPendingBytes > maxRelayPendingBytes {
		return fmt.Errorf("line %d: cluster.relay_pending_bytes: %d, want 1 to %d (0: %d)", n.Line, v.RelayPendingBytes, maxRelayPendingBytes, DefaultRelayPendingBytes)
	}
	*c = ClusterConfig(v)
	return nil
}

func (c ClusterConfig) pending() (msgs, bytes int) {
	msgs, bytes = c.RelayPending, c.RelayPendingBytes
	if msgs == 0 {
		msgs = DefaultRelayPending
	}
	if bytes == 0 {
		bytes = DefaultRelayPendingBytes
	}
	return msgs, bytes
}
