package broker

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
)

// newHTTPServer is the API's server with every limit of access_limits set:
// a client that sends its headers or body slowly, or never reads its
// answer, or idles on a kept-alive connection, is cut off, so a few slow
// clients cannot hold every connection (slowloris). No endpoint streams
// (the dashboard polls), so the write timeout applies to all of them.
func (s *Server) newHTTPServer() *http.Server {
	l := s.cfg.AccessLimits.withDefaults()
	return &http.Server{
		Handler:           refuseCrossOrigin(limitBodies(func() int64 { return s.running().AccessLimits.withDefaults().HTTPMaxBodyBytes }, s.httpHandler())),
		ReadHeaderTimeout: l.HTTPReadHeaderTimeout,
		ReadTimeout:       l.HTTPReadTimeout,
		WriteTimeout:      l.HTTPWriteTimeout,
		IdleTimeout:       l.HTTPIdleTimeout,
		MaxHeaderBytes:    l.HTTPMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelWarn),
	}
}

// limitBodies caps every request body at max() bytes, read per request so
// that a reload changes it; a handler reading past it gets an error (and
// the connection is closed after the answer).
func limitBodies(max func() int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, max())
		h.ServeHTTP(w, r)
	})
}

// refuseCrossOrigin refuses state-changing requests (every method but GET,
// HEAD and OPTIONS) that a browser sent from another origin, judged by
// Sec-Fetch-Site (W3C Fetch Metadata) or else by Origin against Host: a
// page elsewhere must not use an operator's cached basic-auth credentials
// to enrol a device (CSRF). Requests without either header (curl, signet)
// are not from a browser page and pass. The check runs before
// authentication, so a refused request costs no password hash.
func refuseCrossOrigin(h http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: state-changing requests must come from the broker's own origin", http.StatusForbidden)
	}))
	return p.Handler(h)
}

// requireJSON answers 415 unless the request body is declared
// application/json (RFC 9110 §15.5.16). A browser can send a cross-site
// form only as text/plain, multipart/form-data or
// application/x-www-form-urlencoded without a preflight, so insisting on
// JSON is a second wall behind refuseCrossOrigin.
func requireJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			http.Error(w, fmt.Sprintf("content type %q: send the body as application/json", ct), http.StatusUnsupportedMediaType)
			return
		}
		h(w, r)
	}
}
