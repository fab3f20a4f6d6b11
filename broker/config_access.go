package broker

import (
	"fmt"
	"time"
)

// AccessLimits bounds what an unauthenticated client can make the broker
// spend: password hashing (PasswordGuard, for MQTT and HTTP logins alike)
// and the HTTP server's connections, headers and bodies. A zero field takes
// its default (DefaultAccessLimits); max_hashes_per_address's default is 0,
// no cap of its own.
type AccessLimits struct {
	// MaxConcurrentHashes is how many argon2id hashes may run at once; each
	// one costs the hash's memory (64 MiB for `signet passwd` hashes).
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`
	// MaxWaitingHashes is how many logins may wait for a hash slot; a login
	// beyond it is refused at once rather than queued.
	MaxWaitingHashes int `yaml:"max_waiting_hashes"`
	// MaxHashesPerAddress is how many hashes (running or waiting) one remote
	// address may hold at once; 0 (the default) sets no cap beyond the
	// queue's. Without one, a burst of guesses from one address costs the
	// hashes that run before its first failure: the queued rest are refused
	// by its back-off when their turn comes. Set 1 where no host opens
	// several password connections at once.
	MaxHashesPerAddress int `yaml:"max_hashes_per_address"`
	// AddressBackoffBase and AddressBackoffMax shape the back-off after a
	// failed login from one address: base, doubled per further failure,
	// capped at max. While it lasts, that address's logins are refused
	// without hashing.
	AddressBackoffBase time.Duration `yaml:"address_backoff_base"`
	AddressBackoffMax  time.Duration `yaml:"address_backoff_max"`
	// NameBackoffBase and NameBackoffMax are the same for one user name,
	// against guessing spread over many addresses. An address where the
	// name logged in successfully within TrustedAddressTTL is exempt, so
	// an attack on a name does not lock its owner out.
	NameBackoffBase   time.Duration `yaml:"name_backoff_base"`
	NameBackoffMax    time.Duration `yaml:"name_backoff_max"`
	TrustedAddressTTL time.Duration `yaml:"trusted_address_ttl"`
	// MaxTracked bounds each table of addresses and names the guard keeps.
	MaxTracked int `yaml:"max_tracked"`

	// HTTP server limits (net/http.Server fields of the same names).
	HTTPReadHeaderTimeout time.Duration `yaml:"http_read_header_timeout"`
	HTTPReadTimeout       time.Duration `yaml:"http_read_timeout"`
	HTTPWriteTimeout      time.Duration `yaml:"http_write_timeout"`
	HTTPIdleTimeout       time.Duration `yaml:"http_idle_timeout"`
	HTTPMaxHeaderBytes    int           `yaml:"http_max_header_bytes"`
	// HTTPMaxBodyBytes bounds every request body.
	HTTPMaxBodyBytes int64 `yaml:"http_max_body_bytes"`
}

// DefaultAccessLimits are the limits a zero field takes.
func DefaultAccessLimits() AccessLimits {
	return AccessLimits{
		MaxConcurrentHashes: 2, MaxWaitingHashes: 16,
		AddressBackoffBase: time.Second, AddressBackoffMax: 5 * time.Minute,
		NameBackoffBase: time.Second, NameBackoffMax: time.Minute, TrustedAddressTTL: 24 * time.Hour,
		MaxTracked:            10000,
		HTTPReadHeaderTimeout: 5 * time.Second, HTTPReadTimeout: 30 * time.Second, HTTPWriteTimeout: 30 * time.Second,
		HTTPIdleTimeout: 2 * time.Minute, HTTPMaxHeaderBytes: 16 << 10, HTTPMaxBodyBytes: 1 << 20,
	}
}

// withDefaults fills every zero field from DefaultAccessLimits.
func (l AccessLimits) withDefaults() AccessLimits {
	d := DefaultAccessLimits()
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&l.MaxConcurrentHashes, d.MaxConcurrentHashes)
	setInt(&l.MaxWaitingHashes, d.MaxWaitingHashes)
	setInt(&l.MaxTracked, d.MaxTracked)
	setInt(&l.HTTPMaxHeaderBytes, d.HTTPMaxHeaderBytes)
	setDur(&l.AddressBackoffBase, d.AddressBackoffBase)
	setDur(&l.AddressBackoffMax, d.AddressBackoffMax)
	setDur(&l.NameBackoffBase, d.NameBackoffBase)
	setDur(&l.NameBackoffMax, d.NameBackoffMax)
	setDur(&l.TrustedAddressTTL, d.TrustedAddressTTL)
	setDur(&l.HTTPReadHeaderTimeout, d.HTTPReadHeaderTimeout)
	setDur(&l.HTTPReadTimeout, d.HTTPReadTimeout)
	setDur(&l.HTTPWriteTimeout, d.HTTPWriteTimeout)
	setDur(&l.HTTPIdleTimeout, d.HTTPIdleTimeout)
	if l.HTTPMaxBodyBytes == 0 {
		l.HTTPMaxBodyBytes = d.HTTPMaxBodyBytes
	}
	return l
}

// validate names the first access_limits field that is wrong.
func (l AccessLimits) validate() error {
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"max_concurrent_hashes", int64(l.MaxConcurrentHashes)}, {"max_waiting_hashes", int64(l.MaxWaitingHashes)},
		{"max_hashes_per_address", int64(l.MaxHashesPerAddress)}, {"max_tracked", int64(l.MaxTracked)},
		{"address_backoff_base", int64(l.AddressBackoffBase)}, {"address_backoff_max", int64(l.AddressBackoffMax)},
		{"name_backoff_base", int64(l.NameBackoffBase)}, {"name_backoff_max", int64(l.NameBackoffMax)},
		{"trusted_address_ttl", int64(l.TrustedAddressTTL)},
		{"http_read_header_timeout", int64(l.HTTPReadHeaderTimeout)}, {"http_read_timeout", int64(l.HTTPReadTimeout)},
		{"http_write_timeout", int64(l.HTTPWriteTimeout)}, {"http_idle_timeout", int64(l.HTTPIdleTimeout)},
		{"http_max_header_bytes", int64(l.HTTPMaxHeaderBytes)}, {"http_max_body_bytes", l.HTTPMaxBodyBytes},
	} {
		if f.value < 0 {
			return fmt.Errorf("access_limits.%s: must not be negative (0 takes the default)", f.name)
		}
	}
	l = l.withDefaults()
	if l.AddressBackoffMax < l.AddressBackoffBase {
		return fmt.Errorf("access_limits.address_backoff_max: %s is below address_backoff_base %s", l.AddressBackoffMax, l.AddressBackoffBase)
	}
	if l.NameBackoffMax < l.NameBackoffBase {
		return fmt.Errorf("access_limits.name_backoff_max: %s is below name_backoff_base %s", l.NameBackoffMax, l.NameBackoffBase)
	}
	return nil
}
