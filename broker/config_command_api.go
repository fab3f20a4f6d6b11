package broker

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the command_api section.
const (
	// DefaultCommandAckTimeout is how long POST /api/v1/devices/{id}/commands
	// waits for the device's ack before answering 504: a command lives at
	// most MaxCommandLifetime, and a device on a working link answers in
	// well under a second.
	DefaultCommandAckTimeout = 10 * time.Second
	// DefaultCommandMaxWaits is how many such requests may wait for acks at
	// once; more are answered 503, so a flood of them cannot hold the
	// broker's memory and connections.
	DefaultCommandMaxWaits = 64
)

// CommandAPIConfig is the `command_api:` section: the HTTP command endpoint
// consoles use (POST /api/v1/devices/{id}/commands). A zero field takes its
// default.
type CommandAPIConfig struct {
	// AckTimeout bounds the wait for the device's signed ack (at most
	// MaxCommandLifetime: after that the command could no longer act).
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// MaxWaits bounds the requests waiting for an ack at once.
	MaxWaits int `yaml:"max_waits"`
}

// UnmarshalYAML reads the section and checks it, so that a bad value in a
// config file is one error naming the key.
func (c *CommandAPIConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain CommandAPIConfig // without this method
	if err := checkKnownKeys[plain](n, "command_api"); err != nil {
		return err
	}
	var p plain
	if err := n.Decode(&p); err != nil {
		return fmt.Errorf("command_api: %w", err)
	}
	*c = CommandAPIConfig(p)
	return c.Validate()
}

// Validate checks the section's values.
func (c CommandAPIConfig) Validate() error {
	if c.AckTimeout < 0 || c.AckTimeout > MaxCommandLifetime {
		return fmt.Errorf("command_api.ack_timeout: %s must be between 0 (default %s) and %s, a command's longest life", c.AckTimeout, DefaultCommandAckTimeout, MaxCommandLifetime)
	}
	if c.MaxWaits < 0 {
		return fmt.Errorf("command_api.max_waits: %d must not be negative (0: default %d)", c.MaxWaits, DefaultCommandMaxWaits)
	}
	return nil
}

// ackTimeout is AckTimeout or its default.
func (c CommandAPIConfig) ackTimeout() time.Duration {
	if c.AckTimeout <= 0 {
		return DefaultCommandAckTimeout
	}
	return c.AckTimeout
}

// maxWaits is MaxWaits or its default.
func (c CommandAPIConfig) maxWaits() int {
	if c.MaxWaits <= 0 {
		return DefaultCommandMaxWaits
	}
	return c.MaxWaits
}
