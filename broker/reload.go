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
// (userTable) and the rate limits (RateLimits.SetRate).
type reloadState struct {
	mu  sync.Mutex                 // one reload at a time
	cfg *Config                    // the configuration running now (nil: Server.cfg)
	tls atomic.Pointer[tls.Config] // the TLS listener's settings, handed to each handshake
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

// Reloadable are the settings Reload changes on a running broker; every
// other setting needs a restart.
var Reloadable = []string{"users", "rate_per_client", "rate_burst", "tls.cert", "tls.key", "tls.client_ca"}

// Reload applies cfg to the running broker (signet serve does on SIGHUP):
// users with their passwords, tokens, roles, zones and certificate pins,
// the rate limits, and the TLS certificate, key and client CA (read again
// from their files even when their paths did not change, for a renewed
// certificate). Connected MQTT sessions of a user who was removed or
// changed are closed, so they log in again under the new rules; HTTP
// logins are checked again on their next request.
//
// A config that does not validate, that changes a setting only a restart
// can (listen addresses, store, durability, ...: the error names them), or
// whose TLS files do not load is refused whole: the broker keeps running
// on its old configuration, and the refusal is logged and recorded as a
// security event (config_reload_refused), as a success is (config_reloaded).
func (s *Server) Reload(cfg Config) error {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	old := s.cfg
	if s.reloads.cfg != nil {
		old = *s.reloads.cfg
	}
	var tlsConf *tls.Config
	err := cfg.Validate()
	if err == nil {
		if keys := needRestart(old, cfg); len(keys) > 0 {
			err = fmt.Errorf("%s: changing %s needs a restart", strings.Join(keys, ", "), map[bool]string{true: "it", false: "them"}[len(keys) == 1])
		}
	}
	if err == nil && s.tls != nil {
		tlsConf, err = cfg.TLS.load()
	}
	if err != nil {
		return s.RefuseReload(err)
	}

	changed := changedUsers(old.Users, cfg.Users)
	s.access.users.set(cfg.Users)
	s.hook.limits.SetRate(cfg.RatePerClient, cfg.RateBurst)
	if tlsConf != nil {
		s.reloads.tls.Store(tlsConf)
	}
	closed := 0
	for _, name := range changed {
		closed += s.closeUser(name)
	}
	s.reloads.cfg = &cfg
	detail := fmt.Sprintf("%d users (%d changed or removed, %d session(s) closed), rate %v/s burst %d", len(cfg.Users), len(changed), closed, cfg.RatePerClient, cfg.RateBurst)
	if tlsConf != nil {
		detail += ", TLS certificate " + cfg.TLS.Cert + " reloaded"
	}
	s.log.Info("configuration reloaded", "detail", detail)
	s.recordReload("config_reloaded", detail)
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
	// Compare with the reloadable settings made equal.
	cfg.Users, cfg.RatePerClient, cfg.RateBurst = old.Users, old.RatePerClient, old.RateBurst
	cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.ClientCA = old.TLS.Cert, old.TLS.Key, old.TLS.ClientCA
	cfg.Create = old.Create // only decides how the store is opened at start
	var keys []string
	diffKeys(reflect.ValueOf(old), reflect.ValueOf(cfg), "", &keys)
	return keys
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
