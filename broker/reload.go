package broker

import (
	"crypto/tls"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/signet-city/signet/broker/audit"
)

// reloadState is what Reload swaps on a running broker, beside the users
// (userTable), the rate limits (RateLimits.SetRate) and the limits each
// hook holds (reload_limits.go).
type reloadState struct {
	mu       sync.Mutex                 // one reload at a time
	cfg      atomic.Pointer[Config]     // the configuration running now (nil: Server.cfg)
	tls      atomic.Pointer[tls.Config] // the TLS listener's settings, handed to each handshake
	retained *RetainedQuota             // the retained-message quota hook
}

// running is the configuration the broker runs with now: the one it
// started with, or the last one Reload applied. Settings read per request
// (the HTTP API's) read it here.
func (s *Server) running() *Config {
	if c := s.reloads.cfg.Load(); c != nil {
		return c
	}
	return &s.cfg
}

// tlsListenerConfig returns the config the TLS listener is made with: it
// hands every new handshake the settings stored last (RFC 8446 §4.1.2, the
// ClientHello starts each one), so a reload swaps the certificate, its key
// and the client CA for new connections while the listener keeps running.
// Connections already open keep the session they negotiated.
func (rl *reloadState) tlsListenerConfig(c *tls.Config) *tls.Config {
	rl.tls.Store(c)
	return &tls.Config{MinVersion: c.MinVersion, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return rl.tls.Load(), nil
	}}
}

// RunningConfig returns the configuration the broker runs with now, for a
// caller that changes a few settings and hands the result to Reload.
func (s *Server) RunningConfig() Config { return *s.running() }

// Reloadable are the configuration keys Reload changes on a running broker
// (a key names its whole section when it ends in "."). Every other key
// needs a restart: mochi, the listeners, the store and the audit log read
// theirs once at start.
var Reloadable = []string{
	"users", "rate_per_client", "rate_burst", "tls.cert", "tls.key", "tls.client_ca",
	"max_message_bytes", "max_topic_bytes",
	"clients.max_client_id_bytes", "clients.max_sessions", "clients.max_sessions_per_identity",
	"clients.retained_per_client", "clients.retained_bytes_per_client", "clients.retained_total_bytes",
	"connections.connect_timeout", "connections.max_connecting",
	"access_limits.http_max_body_bytes", "command_api.",
	"audit_limits.burst", "audit_limits.window", "audit_limits.max_sources",
	"log.level", "metrics_token_sha256",
}

// ignoredOnReload are keys that only decide how the broker starts; a
// reload neither applies nor refuses a change to them.
var ignoredOnReload = []string{"create"}

// Reload applies cfg to the running broker (signet serve does on SIGHUP):
// every setting named in Reloadable. Users are swapped whole: connected
// MQTT sessions of a user who was removed or changed are closed, so they
// log in again under the new rules; HTTP logins are checked again on their
// next request. The TLS certificate, key and client CA are read again from
// their files even when their paths did not change, for a renewed
// certificate, and serve the next handshake. The limits apply to the next
// message, connection or request; what is under way keeps the limit it
// started with, and what a lowered quota finds over it (sessions, retained
// messages) stays, while new ones are refused.
//
// A config that does not validate, that changes a setting only a restart
// can (the error names the keys), or whose TLS files do not load is refused
// whole: the broker keeps running on its old configuration, and the
// refusal is logged and recorded as a security event
// (config_reload_refused), as a success is (config_reloaded, with the keys
// that changed).
func (s *Server) Reload(cfg Config) error {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	old := *s.running()
	var tlsConf *tls.Config
	err := cfg.Validate()
	if err == nil {
		err = cfg.AuditLimits.validate()
	}
	if err == nil {
		if keys := needRestart(old, cfg); len(keys) > 0 {
			err = fmt.Errorf("%s: changing %s needs a restart", strings.Join(keys, ", "), map[bool]string{true: "it", false: "them"}[len(keys) == 1])
		}
	}
	if err == nil {
		err = s.fitsPackets(cfg)
	}
	if err == nil && s.tls != nil {
		tlsConf, err = cfg.TLS.load()
	}
	if err != nil {
		return s.RefuseReload(err)
	}

	keys := changedKeys(old, cfg)
	changed := changedUsers(old.Users, cfg.Users)
	s.access.users.set(cfg.Users)
	s.hook.limits.SetRate(cfg.RatePerClient, cfg.RateBurst)
	s.hook.SetPayloadLimits(cfg.MaxMessageBytes, cfg.Payload.MaxTopicBytes)
	s.access.setClientLimits(cfg.Clients)
	if s.reloads.retained != nil {
		s.reloads.retained.SetLimits(cfg.Clients)
	}
	s.gate.SetLimits(cfg.Connections.connectTimeout(), cfg.Connections.maxConnecting())
	s.events.setAggregation(cfg.AuditLimits)
	if tlsConf != nil {
		s.reloads.tls.Store(tlsConf)
	}
	closed := 0
	for _, name := range changed {
		closed += s.closeUser(name)
	}
	s.reloads.cfg.Store(&cfg) // the HTTP API's limits and the metrics token, from the next request
	changedList := "none"
	if len(keys) > 0 {
		changedList = strings.Join(keys, ", ")
	}
	detail := fmt.Sprintf("changed: %s; %d users (%d changed or removed, %d session(s) closed)", changedList, len(cfg.Users), len(changed), closed)
	if tlsConf != nil {
		detail += ", TLS certificate " + cfg.TLS.Cert + " reloaded"
	}
	s.log.Info("configuration reloaded", "changed", keys, "detail", detail)
	s.recordReload("config_reloaded", detail)
	return nil
}

// fitsPackets refuses an envelope limit larger than the packets mochi
// reads: its Maximum Packet Size (MQTT 5 §3.2.2.3.6) is fixed at start, so
// a larger envelope could never arrive.
func (s *Server) fitsPackets(cfg Config) error {
	running := s.cfg.Connections.packetLimit(s.cfg.MaxMessageBytes)
	if need := cfg.Connections.packetLimit(cfg.MaxMessageBytes); need > running {
		return fmt.Errorf("max_message_bytes: %d needs packets of %d bytes, but the broker reads at most %d (connections.max_packet_bytes, fixed at start): raising it that far needs a restart",
			envelopeLimit(cfg.MaxMessageBytes), need, running)
	}
	return nil
}

// RefuseReload logs and records (config_reload_refused) a reload that
// could not be applied, e.g. a config file that does not parse, and
// returns the error as the caller should report it. The running
// configuration is kept.
func (s *Server) RefuseReload(cause error) error {
	err := fmt.Errorf("reload refused, the running configuration is kept: %w", cause)
	s.log.Error("configuration reload refused", "err", cause)
	s.recordReload("config_reload_refused", cause.Error())
	return err
}

func (s *Server) recordReload(reason, detail string) {
	s.events.Record(audit.Event{Time: time.Now().UTC(), Kind: "admin", Reason: reason, Detail: detail})
}

// needRestart names, by their configuration keys, the settings that differ
// between old and cfg and that Reload cannot change.
func needRestart(old, cfg Config) []string {
	var keys []string
	for _, k := range changedKeys(old, cfg) {
		if !keyIn(k, Reloadable) {
			keys = append(keys, k)
		}
	}
	return keys
}

// changedKeys names the keys whose values differ between old and cfg,
// leaving out those a reload ignores.
func changedKeys(old, cfg Config) []string {
	var all, keys []string
	diffKeys(reflect.ValueOf(old), reflect.ValueOf(cfg), "", &all)
	for _, k := range all {
		if !keyIn(k, ignoredOnReload) {
			keys = append(keys, k)
		}
	}
	return keys
}

// keyIn reports whether key is one of list, or in a section of it (an
// entry ending in ".").
func keyIn(key string, list []string) bool {
	for _, k := range list {
		if key == k || (strings.HasSuffix(k, ".") && strings.HasPrefix(key, k)) {
			return true
		}
	}
	return false
}

// diffKeys appends the yaml key of every field that differs between a and
// b (structs of one type), going into inline and nested sections.
func diffKeys(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			continue
		}
		if f.Type.Kind() == reflect.Struct && (opts == "inline" || name != "") {
			p := prefix
			if opts != "inline" {
				p = prefix + name + "."
			}
			before := len(*keys)
			diffKeys(a.Field(i), b.Field(i), p, keys)
			if len(*keys) > before {
				continue
			}
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		*keys = append(*keys, prefix+name)
	}
}

// changedUsers names the users of old that cfg removes or changes in any
// way (role, zones, password, token, certificate pin).
func changedUsers(old, users []User) []string {
	next := map[string]User{}
	for _, u := range users {
		next[u.Name] = u
	}
	var out []string
	for _, u := range old {
		n, ok := next[u.Name]
		if !ok || n.Role != u.Role || !slices.Equal(n.Zones, u.Zones) || n.PasswordHash != u.PasswordHash ||
			n.TokenSHA256 != u.TokenSHA256 || !strings.EqualFold(n.CertSHA256, u.CertSHA256) {
			out = append(out, u.Name)
		}
	}
	return out
}

// SetRate changes every identity's sustained rate and burst, for the
// buckets that exist as for new ones; perSecond ≤ 0 lifts the limit.
func (r *RateLimits) SetRate(perSecond float64, burst int) {
	if r == nil {
		return
	}
	if burst < 1 {
		burst = 1
	}
	now := r.now()
	r.mu.Lock()
	r.perSecond, r.burst = rate.Limit(perSecond), burst
	for e := r.lru.Front(); e != nil; e = e.Next() {
		b := e.Value.(*bucket)
		b.lim.SetLimitAt(now, r.perSecond)
		b.lim.SetBurstAt(now, burst)
	}
	r.off.Store(perSecond <= 0)
	r.mu.Unlock()
}
