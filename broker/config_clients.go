package broker

import (
	"fmt"
	"time"
)

// ClientsConfig bounds what one client, one identity and all clients
// together may hold in the broker: client ids, sessions, rate buckets and
// retained messages. A zero field means its default (the Default*
// constants), so a configuration built in code needs none of them.
type ClientsConfig struct {
	// MaxClientIDBytes is the longest client id accepted; longer ones get
	// CONNACK 0x85 Client Identifier not valid (MQTT 5 §3.1.3.1 lets a
	// server refuse them; 3.1.1 clients get 0x02 Identifier rejected).
	MaxClientIDBytes int `yaml:"max_client_id_bytes"`
	// MaxSessions is how many sessions (client ids, connected or kept for
	// a disconnected persistent client) the broker holds at once. A
	// registered device connecting with its own id is always admitted.
	MaxSessions int `yaml:"max_sessions"`
	// MaxSessionsPerIdentity is how many sessions one user or device may
	// hold at once; all anonymous clients together count as one identity.
	MaxSessionsPerIdentity int `yaml:"max_sessions_per_identity"`
	// MaxSessionExpirySeconds is the longest a disconnected persistent
	// session is kept (MQTT 5 §3.1.2.11.2; a 3.1.1 clean-session-false
	// session too).
	MaxSessionExpirySeconds int `yaml:"max_session_expiry_seconds"`
	// RetainedPerClient and RetainedBytesPerClient bound the retained
	// messages outside city/ that one identity holds; RetainedTotalBytes
	// bounds them all together.
	RetainedPerClient      int `yaml:"retained_per_client"`
	RetainedBytesPerClient int `yaml:"retained_bytes_per_client"`
	RetainedTotalBytes     int `yaml:"retained_total_bytes"`
	// RateTableSize is how many identities may have a rate bucket at
	// once; RateIdleSeconds is how long an unused bucket is kept.
	RateTableSize   int `yaml:"rate_table_size"`
	RateIdleSeconds int `yaml:"rate_idle_seconds"`
}

// Defaults of ClientsConfig.
const (
	DefaultMaxClientIDBytes        = 128
	DefaultMaxSessions             = 100_000
	DefaultMaxSessionsPerIdentity  = 1_000
	DefaultMaxSessionExpirySeconds = 24 * 60 * 60
	DefaultRetainedPerClient       = 1_000
	DefaultRetainedBytesPerClient  = 1 << 20
	DefaultRetainedTotalBytes      = 64 << 20
	DefaultRateTableSize           = 100_000
	DefaultRateIdleSeconds         = 600
)

// resolved returns c with every zero field set to its default.
func (c ClientsConfig) resolved() ClientsConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxClientIDBytes, DefaultMaxClientIDBytes)
	def(&c.MaxSessions, DefaultMaxSessions)
	def(&c.MaxSessionsPerIdentity, DefaultMaxSessionsPerIdentity)
	def(&c.MaxSessionExpirySeconds, DefaultMaxSessionExpirySeconds)
	def(&c.RetainedPerClient, DefaultRetainedPerClient)
	def(&c.RetainedBytesPerClient, DefaultRetainedBytesPerClient)
	def(&c.RetainedTotalBytes, DefaultRetainedTotalBytes)
	def(&c.RateTableSize, DefaultRateTableSize)
	def(&c.RateIdleSeconds, DefaultRateIdleSeconds)
	return c
}

// rateIdle is how long an unused rate bucket is kept.
func (c ClientsConfig) rateIdle() time.Duration {
	return time.Duration(c.resolved().RateIdleSeconds) * time.Second
}

// validate names the first field of the clients: section that is wrong.
func (c ClientsConfig) validate() error {
	for _, f := range []struct {
		name  string
		value int
	}{
		{"max_client_id_bytes", c.MaxClientIDBytes}, {"max_sessions", c.MaxSessions},
		{"max_sessions_per_identity", c.MaxSessionsPerIdentity}, {"max_session_expiry_seconds", c.MaxSessionExpirySeconds},
		{"retained_per_client", c.RetainedPerClient}, {"retained_bytes_per_client", c.RetainedBytesPerClient},
		{"retained_total_bytes", c.RetainedTotalBytes}, {"rate_table_size", c.RateTableSize}, {"rate_idle_seconds", c.RateIdleSeconds},
	} {
		if f.value < 0 {
			return fmt.Errorf("clients.%s: %d must not be negative (0: the default)", f.name, f.value)
		}
	}
	// MQTT 5 §3.1.3.1: a client id is a UTF-8 string, at most 65535 bytes.
	if c.MaxClientIDBytes > 65535 {
		return fmt.Errorf("clients.max_client_id_bytes: %d is more than MQTT's 65535", c.MaxClientIDBytes)
	}
	// MQTT 5 §3.1.3-5: a server must accept ids of 1 to 23 bytes.
	if c.MaxClientIDBytes != 0 && c.MaxClientIDBytes < 23 {
		return fmt.Errorf("clients.max_client_id_bytes: %d is below the 23 bytes every MQTT server must accept", c.MaxClientIDBytes)
	}
	if c.MaxSessionExpirySeconds > 1<<32-1 {
		return fmt.Errorf("clients.max_session_expiry_seconds: %d does not fit MQTT's four-byte interval", c.MaxSessionExpirySeconds)
	}
	return nil
}
