package broker_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// deviceBody is a device document as signet device export writes it, with
// the public key of d.
func deviceBody(t *testing.T, id, zone, kind string, d *device) string {
	t.Helper()
	pub := d.key.Public()
	b, err := json.Marshal(devices.Device{ID: id, Zone: zone, Kind: kind, Keys: []devices.Key{{
		KID: d.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEnrollOverHTTP enrols a device through POST /api/v1/devices on a
// running broker with a real store: the device connects and its signed
// state is accepted and updates its twin at once. Bad bodies, wrong roles
// and missing credentials get their status and one line naming the field,
// and store nothing; every enrolment and every refusal that matters to
// security is one event on $security/events.
func TestEnrollOverHTTP(t *testing.T) {
	const adminToken = "enrol-token-for-tests"
	sum := sha256.Sum256([]byte(adminToken))
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.Users = append(cfg.Users, broker.User{Name: "flasher", Role: broker.RoleAdmin, TokenSHA256: hex.EncodeToString(sum[:])})
	})
	base := "http://" + c.srv.HTTPAddr()
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	call := func(method, path, user, bearer, body string) (int, string, http.Header) {
		t.Helper()
		return httpCall(t, method, base+path, user, testPassword, bearer, body)
	}

	fresh := newDevice(t, "sl-new", "z1", "streetlight", signing.AlgEd25519)
	c.devs[fresh.id] = fresh
	good := deviceBody(t, "sl-new", "z1", "streetlight", fresh)
	privJWK, err := signing.MarshalPrivateJWK(fresh.key, fresh.kid)
	if err != nil {
		t.Fatal(err)
	}
	var jwk map[string]any
	if err := json.Unmarshal(privJWK, &jwk); err != nil {
		t.Fatal(err)
	}
	withSeed := strings.Replace(good, `"status":"active"`, `"status":"active","d":"`+jwk["d"].(string)+`"`, 1)
	wholeJWK := `{"id":"sl-new","zone":"z1","kind":"streetlight","keys":[` + string(privJWK) + `]}`
	other := newDevice(t, "sl-new", "z1", "streetlight", signing.AlgEd25519)
	sl2 := c.devs["sl-2"]

	refusals := []struct {
		name, user, bearer, body string
		status                   int
		msg                      string
	}{
		{"no credentials", "", "", good, 401, "authentication required"},
		{"viewer", "viewer-z1", "", good, 403, "enrolling devices is for the admin role"},
		{"auditor", "auditor", "", good, 403, "enrolling devices is for the admin role"},
		{"wrong token", "", "nope", good, 401, "unknown bearer token"},
		{"private key beside the public key", "admin", "", withSeed, 400, `field "keys[0].d": private key material`},
		{"a private JWK as the key", "", adminToken, wholeJWK, 400, `field "keys[0].d": private key material`},
		{"unknown kind", "admin", "", deviceBody(t, "sl-new", "z1", "toaster", other), 400, `unknown kind "toaster"`},
		{"bad zone", "admin", "", deviceBody(t, "sl-new", "Z_1", "streetlight", other), 400, `zone "Z_1": character 'Z' not allowed`},
		{"duplicate id", "admin", "", deviceBody(t, "sl-1", "z1", "streetlight", other), 409, `device "sl-1" is already enrolled`},
		{"duplicate kid", "admin", "", deviceBody(t, "sl-new", "z1", "streetlight", sl2), 409, "duplicate kid " + signing.FormatKeyID(sl2.kid) + ": already held by device sl-2"},
		{"unknown member", "admin", "", strings.Replace(good, `"id"`, `"owner":"x","id"`, 1), 400, `field "owner": unknown`},
		{"key member a public key lacks", "admin", "", strings.Replace(good, `"status"`, `"kty":"OKP","status"`, 1), 400, `field "keys[0].kty": unknown`},
		{"no keys", "admin", "", `{"id":"sl-new","zone":"z1","kind":"streetlight","keys":[]}`, 400, `field "keys": empty`},
		{"zone of the wrong type", "admin", "", strings.Replace(good, `"zone":"z1"`, `"zone":7`, 1), 400, `field "zone": want string`},
		{"not JSON", "admin", "", `{"id":`, 400, "body: want one device as a JSON object"},
	}
	for _, r := range refusals {
		code, body, _ := call("POST", "/api/v1/devices", r.user, r.bearer, r.body)
		if code != r.status || !strings.Contains(body, r.msg) || strings.Count(strings.TrimSpace(body), "\n") != 0 {
			t.Errorf("%s: %d %q, want %d and one line with %q", r.name, code, body, r.status, r.msg)
		}
	}
	// Nothing was stored or loaded.
	if code, body, _ := call("GET", "/api/v1/devices/sl-new", "admin", "", ""); code != 404 {
		t.Fatalf("sl-new after refusals: %d %s", code, body)
	}
	if _, ok := c.srv.Edge().KeyByKID(fresh.kid); ok {
		t.Fatal("a refused key is loaded in the edge")
	}
	if _, ok := c.srv.Edge().KeyByKID(other.kid); ok {
		t.Fatal("a refused key is loaded in the edge")
	}

	code, body, hdr := call("POST", "/api/v1/devices", "admin", "", good)
	if code != 201 || hdr.Get("Location") != "/api/v1/devices/sl-new" {
		t.Fatalf("enrol: %d %s (Location %q)", code, body, hdr.Get("Location"))
	}
	var stored devices.Device
	if err := json.Unmarshal([]byte(body), &stored); err != nil || stored.ID != "sl-new" || stored.Zone != "z1" ||
		len(stored.Keys) != 1 || string(stored.Keys[0].KID) != string(fresh.kid) {
		t.Fatalf("enrol answered %s (%v)", body, err)
	}
	if code, body, _ := call("POST", "/api/v1/devices", "", adminToken, good); code != 409 || !strings.Contains(body, `device "sl-new" is already enrolled`) {
		t.Fatalf("enrolling twice: %d %s", code, body)
	}

	// The events, in order: the two refused roles, the wrong token (an
	// authentication failure), the two private keys, the enrolment.
	want := []struct{ kind, reason, user string }{
		{"admin", "enroll_forbidden", "viewer-z1"}, {"admin", "enroll_forbidden", "auditor"},
		{"auth_failed", "unknown_token", ""},
		{"admin", "private_key_refused", "admin"}, {"admin", "private_key_refused", "flasher"}, {"admin", "device_enrolled", "admin"},
	}
	for i, w := range want {
		var ev audit.Event
		if err := json.Unmarshal(events.next(t).Payload(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Kind != w.kind || ev.Reason != w.reason || ev.User != w.user {
			t.Fatalf("event %d: %+v, want %s by %s", i, ev, w.reason, w.user)
		}
		if w.reason == "device_enrolled" && (ev.Device != "sl-new" || ev.KID != signing.FormatKeyID(fresh.kid) || !strings.Contains(ev.Detail, "zone z1, kind streetlight")) {
			t.Fatalf("enrolment event %+v", ev)
		}
	}

	// The running broker knows the device at once: it connects, and its
	// signed state reaches subscribers and its twin.
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-new", "")
	const tp = "city/z1/sl-new/state"
	msg := fresh.sign(t, tp, []byte(`{"on":true,"level":55}`))
	publish(t, dev, tp, 1, msg)
	if got := city.next(t); got.Topic() != tp || string(got.Payload()) != string(msg) {
		t.Fatalf("subscriber got %s, want the new device's state", got.Topic())
	}
	doc, ok := c.srv.Edge().Twin("sl-new")
	if !ok || doc.Reported["level"] != 55.0 || doc.Zone != "z1" || doc.Kind != "streetlight" {
		t.Fatalf("twin of sl-new = %+v", doc)
	}
	if code, body, _ := call("GET", "/api/v1/twins/sl-new", "viewer-z1", "", ""); code != 200 || !strings.Contains(body, `"level": 55`) {
		t.Fatalf("twin over the API: %d %s", code, body)
	}
}
