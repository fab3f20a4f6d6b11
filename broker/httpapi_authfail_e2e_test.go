package broker_test

import (
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
)

// TestHTTPAuthFailuresAreSecurityEvents: a wrong password or an unknown
// bearer token on the HTTP API is refused with 401 and yields exactly one
// auth_failed security event, as on MQTT; a request with no credentials is
// refused without one (a browser asking how to log in).
func TestHTTPAuthFailuresAreSecurityEvents(t *testing.T) {
	// A wrong password and a good one from the same address in turn: the
	// login back-off that would refuse the good one has its own test.
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0"; noLoginBackoff(cfg) })
	base := "http://" + c.srv.HTTPAddr()
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	get := func(user, password, bearer string) int {
		t.Helper()
		code, _, _ := httpCall(t, "GET", base+"/api/v1/twins", user, password, bearer, "")
		return code
	}
	if code := get("", "", ""); code != 401 {
		t.Fatalf("no credentials: %d, want 401", code)
	}
	if code := get("viewer-z1", "not-the-password", ""); code != 401 {
		t.Fatalf("wrong password: %d, want 401", code)
	}
	if ev := nextEvent(t, events); ev.Kind != "auth_failed" || ev.Reason != "bad_password" || ev.User != "viewer-z1" ||
		!strings.Contains(ev.Detail, "HTTP GET /api/v1/twins") {
		t.Fatalf("wrong password: event %+v", ev)
	}
	if code := get("", "", "made-up"); code != 401 {
		t.Fatalf("unknown token: %d, want 401", code)
	}
	if ev := nextEvent(t, events); ev.Kind != "auth_failed" || ev.Reason != "unknown_token" {
		t.Fatalf("unknown token: event %+v", ev)
	}
	// A good login afterwards is no event: the next event is this marker
	// rejection, not anything from the login.
	if code := get("viewer-z1", testPassword, ""); code != 200 {
		t.Fatalf("good password: %d, want 200", code)
	}
	if code := get("nobody", testPassword, ""); code != 401 {
		t.Fatalf("unknown user: %d, want 401", code)
	}
	if ev := nextEvent(t, events); ev.Reason != "bad_password" || ev.User != "nobody" {
		t.Fatalf("after a good login the next event is %+v, want the unknown user's", ev)
	}
}
