package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/twin"
)

// httpHandler serves /healthz, /readyz, /metrics, the operator dashboard
// (/dashboard/) and the read API:
//
//	GET /api/v1/twins            twins of the caller's zones
//	GET /api/v1/twins/{device}   one twin
//	GET /api/v1/devices[/{id}]   registered devices (public keys only)
//	POST /api/v1/devices         enrol one device (admin; httpapi_enroll.go)
//	GET /api/v1/events?n=100     recent security events (auditor, admin)
//
// The API takes HTTP basic auth against the configured users, or a bearer
// token whose SHA-256 a user's token_sha256 holds, with the same role and
// zone rules as MQTT.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /dashboard/", dashboardHandler())
	mux.Handle("GET /dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{}))
	auth := &basicAuth{users: s.cfg.Users, ok: map[[32]byte]Identity{}, events: s.events, now: time.Now}
	mux.HandleFunc("GET /api/v1/twins", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		out := []*twin.Document{}
		for _, d := range s.edge.Twins("") {
			if id.Role == RoleAdmin || (id.Role != RoleAuditor && id.HasZone(d.Zone)) {
				out = append(out, d)
			}
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("GET /api/v1/twins/{device}", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		d, ok := s.edge.Twin(r.PathValue("device"))
		if !ok || !(id.Role == RoleAdmin || (id.Role != RoleAuditor && id.HasZone(d.Zone))) {
			http.Error(w, "no such device in your zones", http.StatusNotFound)
			return
		}
		writeJSON(w, d)
	}))
	reg := devices.NewRegistry(s.store, nil)
	mux.HandleFunc("GET /api/v1/devices", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		all, err := reg.Devices(r.Context(), "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := []devices.Device{}
		for _, d := range all {
			if id.Role == RoleAdmin || (id.Role != RoleAuditor && id.HasZone(d.Zone)) {
				out = append(out, d)
			}
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("POST /api/v1/devices", auth.wrap((&deviceEnroller{s: s, reg: reg}).serve))
	mux.HandleFunc("POST /api/v1/devices/{id}/commands", auth.wrap(newCommandAPI(s, reg).serve))
	mux.HandleFunc("GET /api/v1/devices/{id}", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		d, err := reg.Device(r.Context(), r.PathValue("id"))
		if err != nil || !(id.Role == RoleAdmin || (id.Role != RoleAuditor && id.HasZone(d.Zone))) {
			http.Error(w, "no such device in your zones", http.StatusNotFound)
			return
		}
		writeJSON(w, d)
	}))
	mux.HandleFunc("GET /api/v1/events", auth.wrap(func(w http.ResponseWriter, r *http.Request, id Identity) {
		if id.Role != RoleAuditor && id.Role != RoleAdmin {
			http.Error(w, "security events are for auditors", http.StatusForbidden)
			return
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		writeJSON(w, s.events.Recent(n))
	}))
	return mux
}

// basicAuth checks users' argon2id passwords, remembering successes so that
// a dashboard polling the API does not cost 64 MiB of argon2 per request.
type basicAuth struct {
	users  []User
	mu     sync.Mutex
	ok     map[[32]byte]Identity
	events EventSink // nil: none
	now    func() time.Time
}

// failed answers 401 and, for credentials that were presented and wrong,
// records one auth_failed security event (issue 5: one per auth failure),
// as the MQTT access hook does. A request with no credentials at all is a
// browser asking how to log in, not a failed attempt.
func (a *basicAuth) failed(w http.ResponseWriter, r *http.Request, user, reason, msg string) {
	if a.events != nil && reason != "" {
		a.events.Record(audit.Event{Time: a.now().UTC(), Kind: "auth_failed", User: user, Remote: r.RemoteAddr,
			Reason: reason, Detail: "HTTP " + r.Method + " " + r.URL.Path + ": " + msg})
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

func (a *basicAuth) wrap(h func(http.ResponseWriter, *http.Request, Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			sum := sha256.Sum256([]byte(tok))
			for _, u := range a.users {
				want, err := hex.DecodeString(u.TokenSHA256)
				if err == nil && len(want) == sha256.Size && subtle.ConstantTimeCompare(sum[:], want) == 1 {
					h(w, r, Identity{Role: u.Role, Name: u.Name, Zones: u.Zones})
					return
				}
			}
			a.failed(w, r, "", "unknown_token", "unknown bearer token")
			return
		}
		name, pass, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="signet"`)
			a.failed(w, r, "", "", "authentication required")
			return
		}
		key := sha256.Sum256([]byte(name + "\x00" + pass))
		a.mu.Lock()
		id, known := a.ok[key]
		a.mu.Unlock()
		if !known {
			for _, u := range a.users {
				if u.Name == name {
					if good, _ := CheckPassword(u.PasswordHash, pass); good {
						id, known = Identity{Role: u.Role, Name: u.Name, Zones: u.Zones}, true
					}
				}
			}
			if !known {
				a.failed(w, r, name, "bad_password", "wrong user or password")
				return
			}
			a.mu.Lock()
			a.ok[key] = id
			a.mu.Unlock()
		}
		h(w, r, id)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
