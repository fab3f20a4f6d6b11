package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// metricsAuth guards GET /metrics with the bearer token whose SHA-256 is
// metrics_token_sha256, which want reads on each scrape (a reload may set,
// change or clear it). With no hash configured it is next, unchanged: the
// endpoint stays open, as a Prometheus scrape target usually is on a
// loopback or private listener. With one, a scrape without the token is
// refused with 401 and a Bearer challenge (RFC 6750 §3), so the counters,
// which say how many messages each reason refused, are not public.
func metricsAuth(want func() MetricsTokenSHA256, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash := want()
		if hash == "" {
			next.ServeHTTP(w, r)
			return
		}
		wantSum, _ := hex.DecodeString(string(hash)) // validated when the config was read
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(token))
		if !ok || token == "" || subtle.ConstantTimeCompare(sum[:], wantSum) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="signet metrics"`)
			http.Error(w, "metrics need Authorization: Bearer TOKEN (metrics_token_sha256)", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
