package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// httpHandler serves /healthz, /readyz, /metrics, the operator dashboard
// (/dashboard/) and the read API:
//
//	GET /api/v1/twins            twins of the caller's zones
//	GET /api/v1/twins/{device}   one twin
//	GET /api/v1/devices[/{id}]   registered devices (public keys only)
//	POST /api/v1/devices         enrol one device (admin, JSON only; httpapi_enroll.go)
//	GET /api/v1/events?n=100     recent security events (auditor, admin)
//	GET /api/v1/events?limit=N&before=CURSOR  older ones, from the audit log (httpapi_events.go)
//	GET /api/v1/stream           live server-sent events (httpapi_stream.go)
//	GET /api/v1/status           version, uptime, store, counts (httpapi_status.go)
//	revocation, rotation, operators, export, backup (admin; httpapi_admin.go)
//
// The API takes HTTP basic auth against the configured users, or a bearer
// token whose SHA-256 a user's token_sha256 holds, with the same role and
// zone rules as MQTT (mayReadTwin). Passwords go through the password
// guard the MQTT face shares; cross-origin state-changing requests are
// refused before any of this (httpapi_limits.go).
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		if err := s.storeHealthy(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /dashboard/", dashboardHandler())
	mux.Handle("GET /dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
	mux.Handle("GET /metrics", metricsAuth(func() MetricsTokenSHA256 { return s.running().MetricsToken }, promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})))
	auth := &basicAuth{users: s.access.users, ok: map[[32]byte]cachedLogin{}, events: s.events, now: time.Now, logins: s.logins}
	mux.HandleFunc("GET /api/v1/twins", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		var docs []*twin.Document
		for _, d := range s.edge.Twins("") {
			if mayReadTwin(id, d.Zone, d.Device) {
				docs = append(docs, d)
			}
		}
		writeWithConnectionsOf(s, w, docs, func(d *twin.Document) string { return d.Device })
	}))
	mux.HandleFunc("GET /api/v1/twins/{device}", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		d, ok := s.edge.Twin(r.PathValue("device"))
		if !ok || !mayReadTwin(id, d.Zone, d.Device) {
			http.Error(w, "no such device in your zones", http.StatusNotFound)
			return
		}
		s.writeWithConnection(w, d, d.Device)
	}))
	reg := devices.NewRegistry(s.store, nil)
	mux.HandleFunc("GET /api/v1/devices", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		all, err := reg.Devices(r.Context(), "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		var out []devices.Device
		for _, d := range all {
			if mayReadTwin(id, d.Zone, d.ID) {
				out = append(out, d)
			}
		}
		writeWithConnectionsOf(s, w, out, func(d devices.Device) string { return d.ID })
	}))
	en := &deviceEnroller{s: s, reg: reg}
	mux.HandleFunc("POST /api/v1/devices", requireJSON(auth.wrap(en.serve)))
	mux.HandleFunc("POST /api/v1/devices/{id}/commands", auth.wrap(newCommandAPI(s, reg).serve)) // JSON only: checked there, with a JSON answer
	s.adminRoutes(mux, auth, en)                                                                 // httpapi_admin.go
	mux.HandleFunc("GET /api/v1/devices/{id}", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		d, err := reg.Device(r.Context(), r.PathValue("id"))
		if err != nil || !mayReadTwin(id, d.Zone, d.ID) {
			http.Error(w, "no such device in your zones", http.StatusNotFound)
			return
		}
		s.writeWithConnection(w, d, d.ID)
	}))
	mux.HandleFunc("GET /api/v1/events", auth.wrap(s.serveEvents))
	mux.HandleFunc("GET /api/v1/stream", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		users := s.access.users.load()
		s.dash.serveStream(w, r, id, func() bool { return s.access.users.load() == users })
	}))
	mux.HandleFunc("GET /api/v1/status", auth.wrap(s.serveStatus))
	return mux
}

// mayReadTwin is the HTTP face of the MQTT read rule: a twin document (and
// the device's registry record beside it) is readable over HTTP exactly
// when every part of it is readable on $twin/{zone}/{device}/{part} over
// MQTT (Identity.MayRead), so a role sees the same on both faces.
func mayReadTwin(id Identity, zone, device string) bool {
	for _, part := range topic.TwinParts {
		if !id.MayRead(topic.Twin(zone, device, part)) {
			return false
		}
	}
	return true
}

// basicAuth checks users' argon2id passwords through the password guard
// the MQTT face shares, remembering successes so that a dashboard polling
// the API does not cost a hash per request.
type basicAuth struct {
	users  *userTable // the access hook's; swapped by Reload
	logins *PasswordGuard
	mu     sync.Mutex
	ok     map[[32]byte]cachedLogin
	events EventSink // nil: none
	now    func() time.Time
}

// failed answers status (401 unless the guard refused) and, for
// credentials that were presented and wrong, records one auth_failed
// security event, as the MQTT access hook does. A request with no
// credentials at all is a browser asking how to log in, not a failed
// attempt.
func (a *basicAuth) failed(w http.ResponseWriter, r *http.Request, user, reason, msg string, status int) {
	if a.events != nil && reason != "" {
		a.events.Record(audit.Event{Time: a.now().UTC(), Kind: "auth_failed", User: user, Remote: r.RemoteAddr,
			Reason: reason, Detail: "HTTP " + r.Method + " " + r.URL.Path + ": " + msg})
	}
	http.Error(w, msg, status)
}

func (a *basicAuth) wrap(h func(http.ResponseWriter, *http.Request, Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			sum := sha256.Sum256([]byte(tok))
			for _, u := range a.users.load().list {
				want, err := hex.DecodeString(u.TokenSHA256)
				if err == nil && len(want) == sha256.Size && subtle.ConstantTimeCompare(sum[:], want) == 1 {
					h(w, r, Identity{Role: u.Role, Name: u.Name, Zones: u.Zones})
					return
				}
			}
			a.failed(w, r, "", "unknown_token", "unknown bearer token", http.StatusUnauthorized)
			return
		}
		name, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="signet"`)
			a.failed(w, r, "", "", "authentication required", http.StatusUnauthorized)
			return
		}
		key := sha256.Sum256([]byte(name + "\x00" + pass))
		users := a.users.load()
		a.mu.Lock()
		c, known := a.ok[key]
		a.mu.Unlock()
		id := c.id
		if !known || c.users != users { // a reload since: check again
			var err error
			if id, err = a.login(r, name, pass); err != nil {
				a.refuse(w, r, name, err)
				return
			}
			a.mu.Lock()
			a.ok[key] = cachedLogin{id: id, users: users}
			a.mu.Unlock()
		}
		h(w, r, id)
	}
}

// login checks name and password through the guard; a name that is no
// user (or has no password) is checked against the guard's decoy.
func (a *basicAuth) login(r *http.Request, name, pass string) (Identity, error) {
	var user User
	for _, u := range a.users.load().list {
		if u.Name == name {
			user = u
		}
	}
	if err := a.logins.Check(r.Context(), r.RemoteAddr, name, pass, user.PasswordHash); err != nil {
		return Identity{}, err
	}
	if user.Name == "" {
		return Identity{}, ErrWrongPassword // the decoy matched: it cannot
	}
	return Identity{Role: user.Role, Name: user.Name, Zones: user.Zones}, nil
}

// refuse answers a login the guard turned down: 401 for a wrong name or
// password, 429 with Retry-After while backing off (RFC 6585 §4), 503 with
// Retry-After when no hash slot is free (RFC 9110 §15.6.4).
func (a *basicAuth) refuse(w http.ResponseWriter, r *http.Request, name string, err error) {
	var backoff *BackoffError
	switch {
	case errors.As(err, &backoff):
		w.Header().Set("Retry-After", strconv.Itoa(int(backoff.RetryAfter.Seconds())+1))
		a.failed(w, r, name, "login_backoff", err.Error(), http.StatusTooManyRequests)
	case errors.Is(err, ErrHashesBusy):
		w.Header().Set("Retry-After", "1")
		a.failed(w, r, name, "login_busy", err.Error(), http.StatusServiceUnavailable)
	case errors.Is(err, ErrWrongPassword):
		a.failed(w, r, name, "bad_password", "wrong user or password", http.StatusUnauthorized)
	default: // the request ended while waiting for a slot
		a.failed(w, r, name, "login_busy", "login not checked: "+err.Error(), http.StatusServiceUnavailable)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
