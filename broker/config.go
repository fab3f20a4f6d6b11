package broker

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
)

// Config is what `signet serve` runs with: a YAML file, then flags on top.
type Config struct {
	// Store is the bbolt file holding the registry, windows and twins, or
	// nats://host:4222[,...]: a JetStream cluster shared by several brokers.
	Store string `yaml:"store"`
	// Durability is "strict" (acknowledge after fsync, the default) or
	// "relaxed" (see devices.Relaxed for what it risks).
	Durability string `yaml:"durability"`
	// MQTT is the TCP listen address for MQTT 3.1.1 and 5.
	MQTT string `yaml:"mqtt"`
	// TLS is an MQTT-over-TLS listener; with ClientCA set, clients must
	// present a certificate signed by it (mTLS), and a device whose
	// certificate is pinned in the registry, or a user whose cert_sha256
	// pins it, is authenticated by it.
	TLS TLSConfig `yaml:"tls"`
	// WebSocket is an MQTT-over-WebSocket listen address ("" disables it).
	WebSocket string `yaml:"websocket"`
	// HTTP is the listen address of the API, /metrics, /healthz and /readyz
	// ("" disables it).
	HTTP string `yaml:"http"`
	// Audit is the hash-chained security audit log ("" disables it).
	Audit string `yaml:"audit"`
	// AuditLimits bound the audit log: field sizes, events per source, rotation.
	AuditLimits AuditLimits `yaml:"audit_limits"`
	// AllowAnonymous lets clients without credentials use ordinary MQTT
	// topics; never city/, $twin/ or $security/.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// MaxMessageBytes bounds an envelope (0: signing.DefaultMaxSize).
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// RatePerClient is each identity's sustained messages per second under
	// city/, all its connections together (0: unlimited), RateBurst its burst.
	RatePerClient float64 `yaml:"rate_per_client"`
	RateBurst     int     `yaml:"rate_burst"`
	// MaxPendingWrites is how many packets may wait to be written to one
	// client before mochi drops further ones for it (0:
	// DefaultMaxPendingWrites). Each client's queue costs 8 bytes a slot.
	MaxPendingWrites int `yaml:"max_pending_writes"`
	// GCPercent and MemoryLimitMiB are the garbage collector's target and
	// the soft memory limit that `signet serve` sets for the process
	// (ApplyGCPolicy; 0: DefaultGCPercent, DefaultMemoryLimitMiB). The
	// GOGC and GOMEMLIMIT environment variables win when set.
	GCPercent      int `yaml:"gc_percent"`
	MemoryLimitMiB int `yaml:"memory_limit_mib"`
	// GoMaxProcs is how many goroutines may run Go code at once
	// (ApplyProcsPolicy; 0: DefaultProcsPerCPU for each CPU). The
	// GOMAXPROCS environment variable wins when set.
	GoMaxProcs int `yaml:"gomaxprocs"`
	// Create lets `signet serve` make a new, empty store when Store does
	// not exist (as --init does); without it a mistyped path is an error
	// rather than a broker with no devices.
	Create bool `yaml:"create"`
	// Log sets the level and format of the broker's log.
	Log LogConfig `yaml:"log"`
	// Payload bounds topics, twin documents and patches (config_payload.go).
	Payload PayloadConfig `yaml:",inline"`
	// Clients bounds client ids, sessions, rate buckets and retained messages.
	Clients ClientsConfig `yaml:"clients"`
	// Connections bounds packets, CONNECT time and unauthenticated connections.
	Connections ConnectionsConfig `yaml:"connections"`
	// Users are people and applications (argon2id password hashes, bearer
	// token hashes, client certificate pins).
	Users []User `yaml:"users"`
	// AccessLimits bounds password hashing and the HTTP server (config_access.go).
	AccessLimits AccessLimits `yaml:"access_limits"`
	// LeaseBlock is how many counters one durable lease write covers, per key (config_lease.go).
	LeaseBlock LeaseBlock `yaml:"lease_block"`
	// CommitDelay is how long back-to-back store commits wait for company (config_commit.go).
	CommitDelay CommitDelay `yaml:"commit_delay"`
	// CommandAPI is the HTTP command endpoint (config_command_api.go).
	CommandAPI CommandAPIConfig `yaml:"command_api"`
	// NATS is how a store of nats:// URLs is reached (config_nats.go).
	NATS NATSConfig `yaml:"nats"`
	// Cluster makes brokers sharing a nats:// store one MQTT namespace (config_cluster.go).
	Cluster ClusterConfig `yaml:"cluster"`
	// MetricsToken, when set, is the SHA-256 of the bearer token /metrics requires (config_metrics.go).
	MetricsToken MetricsTokenSHA256 `yaml:"metrics_token_sha256"`
	// Dashboard bounds the live stream, the rate history and event paging (config_dashboard.go).
	Dashboard DashboardConfig `yaml:"dashboard"`
}

// TLSConfig configures the TLS listener.
type TLSConfig struct {
	Listen   string `yaml:"listen"`    // "" disables TLS
	Cert     string `yaml:"cert"`      // PEM certificate chain
	Key      string `yaml:"key"`       // PEM private key
	ClientCA string `yaml:"client_ca"` // PEM CA bundle; set: mTLS required
}

// load builds the tls.Config, with errors naming the field.
func (t TLSConfig) load() (*tls.Config, error) {
	if t.Listen == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.ClientCA != "" {
		pem, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.client_ca: %s holds no PEM certificate", t.ClientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// DefaultConfig is the configuration before the file and flags.
func DefaultConfig() Config {
	return Config{Store: "signet.db", Durability: "strict", MQTT: "127.0.0.1:1883", HTTP: "127.0.0.1:8080", RatePerClient: 200, RateBurst: 400}
}

// LoadConfig reads path over DefaultConfig. Unknown fields are errors.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("config %s: no such file", path)
	}
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) { // one line: "line 1: field colour not found in type broker.Config; ..."
			return c, fmt.Errorf("config %s: %s", path, oneLine(errors.New(strings.Join(te.Errors, "; "))))
		}
		return c, fmt.Errorf("config %s: %s", path, oneLine(err))
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks every field and names the first one that is wrong.
func (c Config) Validate() error {
	if c.Store == "" {
		return errors.New("store: must name a file")
	}
	if _, err := devices.ParseDurability(c.Durability); err != nil {
		return fmt.Errorf("durability: %w", err)
	}
	if c.MQTT == "" {
		return errors.New("mqtt: must be a listen address such as 127.0.0.1:1883")
	}
	if _, err := c.TLS.load(); err != nil {
		return err
	}
	if _, err := c.Log.Handler(io.Discard); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		value float64
	}{
		{"max_message_bytes", float64(c.MaxMessageBytes)}, {"rate_per_client", c.RatePerClient}, {"rate_burst", float64(c.RateBurst)},
		{"max_pending_writes", float64(c.MaxPendingWrites)}, {"gc_percent", float64(c.GCPercent)}, {"memory_limit_mib", float64(c.MemoryLimitMiB)}, {"gomaxprocs", float64(c.GoMaxProcs)},
	} {
		if f.value < 0 {
			return fmt.Errorf("%s: %v must not be negative", f.name, f.value)
		}
	}
	if err := c.Payload.validate(); err != nil {
		return err
	}
	if err := c.AccessLimits.validate(); err != nil {
		return err
	}
	if err := c.Clients.validate(); err != nil {
		return err
	}
	if err := c.Connections.validate(c.MaxMessageBytes); err != nil {
		return err
	}
	seen := map[string]bool{}
	certUser := map[string]string{} // lower-case cert_sha256 -> user name
	for i, u := range c.Users {
		f := fmt.Sprintf("users[%d]", i)
		if u.Name == "" || seen[u.Name] {
			return fmt.Errorf("%s.name: empty or repeated", f)
		}
		seen[u.Name] = true
		switch u.Role {
		case RoleViewer, RoleOperator, RoleAuditor, RoleAdmin, RoleGateway:
		default:
			return fmt.Errorf("%s.role: %q is not viewer, operator, auditor, admin or gateway", f, u.Role)
		}
		for _, z := range u.Zones {
			if z != "*" {
				if err := topic.ValidID(f+".zones", z); err != nil {
					return err
				}
			}
		}
		if u.PasswordHash == "" && u.TokenSHA256 == "" && u.CertSHA256 == "" {
			return fmt.Errorf("%s: needs a password_hash (make one with: signet passwd), a token_sha256 or a cert_sha256", f)
		}
		if u.PasswordHash != "" {
			if _, err := parsePHC(u.PasswordHash); err != nil { // reading it is enough: no hash at start-up
				return fmt.Errorf("%s.password_hash: %w (make one with: signet passwd)", f, err)
			}
		}
		if u.TokenSHA256 != "" {
			if b, err := hex.DecodeString(u.TokenSHA256); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("%s.token_sha256: want 64 hex digits, the SHA-256 of the bearer token", f)
			}
		}
		if u.CertSHA256 != "" {
			if err := c.validUserCert(u.CertSHA256); err != nil {
				return fmt.Errorf("%s.cert_sha256: %w", f, err)
			}
			pin := strings.ToLower(u.CertSHA256)
			if prev, dup := certUser[pin]; dup {
				return fmt.Errorf("%s.cert_sha256: already pinned to user %q; a certificate logs in as one user", f, prev)
			}
			certUser[pin] = u.Name
		}
	}
	return nil
}

// validUserCert checks a user's cert_sha256: a SHA-256 in hex, usable only
// where clients present verified certificates (tls.listen and tls.client_ca).
func (c Config) validUserCert(pin string) error {
	if b, err := hex.DecodeString(pin); err != nil || len(b) != sha256.Size {
		return errors.New("want 64 hex digits, the SHA-256 of the client certificate's DER (openssl x509 -in cert.pem -outform der | sha256sum)")
	}
	if c.TLS.Listen == "" || c.TLS.ClientCA == "" {
		return errors.New("certificate login needs tls.listen and tls.client_ca (mTLS); set them or remove the pin")
	}
	return nil
}
