package broker_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices/twin"
)

func TestHTTPAPIRolesAndZones(t *testing.T) {
	token := "s3cret-dashboard-token"
	sum := sha256.Sum256([]byte(token))
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.Users = append(cfg.Users, broker.User{Name: "dash", Role: broker.RoleViewer, Zones: []string{"z2"}, PasswordHash: passwordHash(t), TokenSHA256: hex.EncodeToString(sum[:])})
	})
	base := "http://" + c.srv.HTTPAddr()
	get := func(path, user, bearer string) (int, []byte) {
		code, body, _ := httpCall(t, "GET", base+path, user, testPassword, bearer, "")
		return code, []byte(body)
	}
	if code, _ := get("/healthz", "", ""); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := get("/api/v1/twins", "", ""); code != 401 {
		t.Fatalf("anonymous API call: %d, want 401", code)
	}
	zonesOf := func(body []byte) map[string]bool {
		var docs []twin.Document
		if err := json.Unmarshal(body, &docs); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		z := map[string]bool{}
		for _, d := range docs {
			z[d.Zone] = true
		}
		return z
	}
	if code, body := get("/api/v1/twins", "viewer-z1", ""); code != 200 || !zonesOf(body)["z1"] || zonesOf(body)["z2"] {
		t.Fatalf("viewer-z1 twins: %d zones %v", code, zonesOf(body))
	}
	if code, body := get("/api/v1/twins", "", token); code != 200 || !zonesOf(body)["z2"] || zonesOf(body)["z1"] {
		t.Fatalf("bearer (z2) twins: %d %s", code, body)
	}
	if code, _ := get("/api/v1/twins", "", "wrong"); code != 401 {
		t.Fatalf("wrong bearer: %d", code)
	}
	if code, _ := get("/api/v1/twins/aq-9", "viewer-z1", ""); code != 404 {
		t.Fatalf("viewer-z1 reading a z2 twin: %d, want 404", code)
	}
	if code, _ := get("/api/v1/events", "viewer-z1", ""); code != 403 {
		t.Fatalf("viewer reading events: %d, want 403", code)
	}
	if code, _ := get("/api/v1/events", "auditor", ""); code != 200 {
		t.Fatalf("auditor events: %d", code)
	}
	if code, body := get("/api/v1/devices/sl-1", "admin", ""); code != 200 || !strings.Contains(string(body), `"zone": "z1"`) {
		t.Fatalf("admin device: %d %s", code, body)
	}
	if code, body := get("/api/v1/devices", "viewer-z1", ""); code != 200 || !strings.Contains(string(body), `"sl-1"`) || strings.Contains(string(body), `"aq-9"`) {
		t.Fatalf("viewer-z1 devices: %d %s", code, body)
	}
	if code, _ := get("/api/v1/devices/aq-9", "viewer-z1", ""); code != 404 {
		t.Fatalf("viewer-z1 reading a z2 device: %d, want 404", code)
	}
	if code, body := get("/api/v1/twins/sl-1", "viewer-z1", ""); code != 200 || !strings.Contains(string(body), `"device": "sl-1"`) {
		t.Fatalf("viewer-z1 twin sl-1: %d %s", code, body)
	}
	if code, _ := get("/api/v1/twins", "auditor", ""); code != 200 {
		t.Fatalf("auditor twins: %d", code)
	}
	if code, _ := get("/api/v1/events", "viewer-z1", "wrong"); code != 401 {
		t.Fatalf("bad bearer with basic: %d", code)
	}
	if code, _ := get("/readyz", "", ""); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	code, body := get("/metrics", "", "")
	for _, m := range []string{
		"signet_messages_accepted_total", `signet_messages_rejected_total{reason="replay"}`, "signet_verify_seconds",
		"signet_verify_signatures_total", "signet_verify_batches_total", "signet_verify_queue_depth",
		"signet_commit_seconds", "signet_signature_wait_seconds", "signet_clients_connected",
	} {
		if code != 200 || !strings.Contains(string(body), m) {
			t.Fatalf("/metrics lacks %s", m)
		}
	}
}

// httpCall makes one request to the broker's HTTP API, with basic auth when
// user is set and a bearer token when bearer is, and returns the status, the
// body and the headers.
func httpCall(t *testing.T, method, url, user, password, bearer, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}
