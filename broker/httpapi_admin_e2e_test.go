package broker_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// connectWatched connects device id (MQTT 3.1.1, connect token) and returns
// the client and a channel that receives once when the broker drops it.
func (c *city) connectWatched(t *testing.T, id string) (paho.Client, <-chan error) {
	t.Helper()
	lost := make(chan error, 1)
	d := c.devs[id]
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetWriteTimeout(5 * time.Second).
		SetUsername(id).SetPassword(string(d.token(t, id))).
		SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl, lost
}

// TestRevokeOverHTTPClosesTheSession revokes a connected device through
// DELETE /api/v1/devices/{id} on a running broker: its session is closed at
// once, it cannot log in again, and its next message (sent on its behalf
// by its zone's gateway) is refused as revoked and reaches no subscriber,
// while an honest device of the same zone keeps publishing. Other roles
// are refused and change nothing.
func TestRevokeOverHTTPClosesTheSession(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	victim, lost := c.connectWatched(t, "sl-1")
	honest := c.connect(t, "sl-2", "")
	gw := c.connect(t, "gw-1", "gw")

	const tp1, tp2 = "city/z1/sl-1/state", "city/z1/sl-2/state"
	publish(t, victim, tp1, 1, c.devs["sl-1"].sign(t, tp1, []byte(`{"on":true,"level":10}`)))
	if got := city.next(t); got.Topic() != tp1 {
		t.Fatalf("before the revocation: got %s", got.Topic())
	}

	for _, user := range []string{"viewer-z1", "auditor", "gw"} {
		if code, body, _ := httpCall(t, "DELETE", base+"/api/v1/devices/sl-1", user, testPassword, "", ""); code != 403 ||
			!strings.Contains(body, "admin role") {
			t.Fatalf("DELETE as %s: %d %s", user, code, body)
		}
	}
	if !victim.IsConnectionOpen() {
		t.Fatal("a refused revocation closed the session")
	}
	code, body, _ := httpCall(t, "DELETE", base+"/api/v1/devices/sl-1", "admin", testPassword, "", "")
	var res broker.AdminResult
	if code != 200 || json.Unmarshal([]byte(body), &res) != nil || res != (broker.AdminResult{Owner: "device sl-1", Keys: 1, SessionsClosed: 1}) {
		t.Fatalf("DELETE as admin: %d %s", code, body)
	}
	select {
	case <-lost:
	case <-time.After(20 * time.Second):
		t.Fatal("the revoked device's session is still open")
	}

	// It cannot come back: its connect token is signed by a revoked key.
	again := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID("sl-1").
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
		SetUsername("sl-1").SetPassword(string(c.devs["sl-1"].token(t, "sl-1"))))
	if tok := again.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		again.Disconnect(0)
		t.Fatal("a revoked device logged in again")
	}

	// Its next message, relayed by the gateway, is refused; the honest
	// device's next one arrives, and it is the first the subscriber sees.
	publish(t, gw, tp1, 1, c.devs["sl-1"].sign(t, tp1, []byte(`{"on":true,"level":99}`)))
	msg := c.devs["sl-2"].sign(t, tp2, []byte(`{"on":true,"level":20}`))
	publish(t, honest, tp2, 1, msg)
	if got := city.next(t); got.Topic() != tp2 || string(got.Payload()) != string(msg) {
		t.Fatalf("after the revocation the subscriber got %s", got.Topic())
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Reported["level"] != 10.0 {
		t.Fatalf("the revoked device's twin changed: %v", doc.Reported)
	}

	// The security events say who did what: three refused roles, the
	// revocation, and the refused message.
	var sawRevoked, sawRejected bool
	for !sawRevoked || !sawRejected {
		var ev audit.Event
		if err := json.Unmarshal(events.next(t).Payload(), &ev); err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Reason == "device_revoked":
			sawRevoked = ev.User == "admin" && ev.Device == "sl-1" && strings.Contains(ev.Detail, "1 session(s) closed")
		case ev.Kind == "rejected" && ev.Device == "sl-1" && ev.Reason == "revoked":
			sawRejected = true
		}
	}
}

// TestAdminAPIRotateOperatorsBackup drives the other admin endpoints on a
// running broker: a rotated key signs at once, one key revoked by kid is
// refused at once while the device's new key keeps working, an operator
// and an authority key are enrolled and listed, the export and the online
// backup are whole, and bad bodies get one line naming the field.
func TestAdminAPIRotateOperatorsBackup(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	call := func(method, path, body string) (int, string) {
		t.Helper()
		code, b, _ := httpCall(t, method, base+path, "admin", testPassword, "", body)
		return code, b
	}
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")

	next := newDevice(t, "sl-2", "z1", "streetlight", signing.AlgEd25519)
	pub := next.key.Public()
	keyJSON, err := json.Marshal(devices.Key{KID: next.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct{ body, msg string }{
		{`{"key":` + string(keyJSON) + `}`, `field "grace": missing`},
		{`{"key":` + string(keyJSON) + `,"grace":"-1h"}`, `field "grace": want a duration`},
		{`{"key":` + string(keyJSON) + `,"grace":"1h","x":1}`, `field "x": unknown`},
		{`{"key":{"kid":"01","alg":"ed25519","public":"AA","d":"AA"},"grace":"1h"}`, `field "key.d": private key material`},
	}
	for _, b := range bad {
		if code, body := call("POST", "/api/v1/devices/sl-2/keys", b.body); code != 400 || !strings.Contains(body, b.msg) {
			t.Errorf("rotate %s: %d %s, want 400 %q", b.body, code, body, b.msg)
		}
	}
	if code, body := call("POST", "/api/v1/devices/sl-2/keys", `{"key":`+string(keyJSON)+`,"grace":"1h"}`); code != 200 || !strings.Contains(body, signing.FormatKeyID(next.kid)) {
		t.Fatalf("rotate: %d %s", code, body)
	}
	// The old key: revoked by kid, with immediate effect on the edge.
	old := c.devs["sl-2"]
	code, body := call("DELETE", "/api/v1/keys/"+signing.FormatKeyID(old.kid), "")
	if code != 200 || !strings.Contains(body, `"owner": "device sl-2"`) {
		t.Fatalf("revoke by kid: %d %s", code, body)
	}
	if k, ok := c.srv.Edge().KeyByKID(old.kid); !ok || k.Status != devices.StatusRevoked {
		t.Fatal("the revoked key is still usable in the edge")
	}
	if code, body := call("DELETE", "/api/v1/keys/00ff00ff", ""); code != 404 {
		t.Fatalf("unknown kid: %d %s", code, body)
	}
	// The new key logs in and signs at once.
	next.id, next.zone, next.kind = "sl-2", "z1", "streetlight"
	c.devs["sl-2"] = next
	dev := c.connect(t, "sl-2", "")
	const tp = "city/z1/sl-2/state"
	msg := next.sign(t, tp, []byte(`{"on":false,"level":0}`))
	publish(t, dev, tp, 1, msg)
	if got := city.next(t); string(got.Payload()) != string(msg) {
		t.Fatalf("the rotated key's message did not arrive: %s", got.Topic())
	}

	op := newDevice(t, "alice", "", "", signing.AlgEd25519)
	opPub := op.key.Public()
	opKey, _ := json.Marshal(devices.Key{KID: op.kid, Alg: opPub.Alg(), Public: opPub.Bytes(), Status: devices.StatusActive})
	opBody := `{"id":"alice","keys":[` + string(opKey) + `],"scope":{"zones":["z1"],"kinds":["streetlight"],"commands":["dim"]}}`
	if code, body := call("POST", "/api/v1/operators", opBody); code != 201 {
		t.Fatalf("operator enrol: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/operators", opBody); code != 409 {
		t.Fatalf("operator enrolled twice: %d %s", code, body)
	}
	if _, ok := c.srv.Edge().KeyByKID(op.kid); !ok {
		t.Fatal("the operator's key is not loaded in the edge")
	}
	auth := newDevice(t, "city", "", "", signing.AlgEd25519)
	authPub := auth.key.Public()
	authKey, _ := json.Marshal(devices.Key{KID: auth.kid, Alg: authPub.Alg(), Public: authPub.Bytes(), Status: devices.StatusActive})
	if code, body := call("POST", "/api/v1/authorities/city/keys", string(authKey)); code != 200 {
		t.Fatalf("authority key: %d %s", code, body)
	}
	if _, ok := c.srv.Edge().AuthorityKey(auth.kid); !ok {
		t.Fatal("the authority's key is not loaded in the edge")
	}
	var list broker.OperatorList
	if code, body := call("GET", "/api/v1/operators", ""); code != 200 || json.Unmarshal([]byte(body), &list) != nil ||
		len(list.Operators) != 1 || len(list.Authorities) != 1 {
		t.Fatalf("operator list: %d %s", code, body)
	}
	if code, body := call("DELETE", "/api/v1/operators/alice", ""); code != 200 || !strings.Contains(body, `"keys": 1`) {
		t.Fatalf("operator revoke: %d %s", code, body)
	}
	if k, _ := c.srv.Edge().KeyByKID(op.kid); k.Status != devices.StatusRevoked {
		t.Fatal("the revoked operator's key is still active in the edge")
	}
	if code, body := call("GET", "/api/v1/export", ""); code != 200 || !strings.Contains(body, `"alice"`) || !strings.Contains(body, `"sl-2"`) {
		t.Fatalf("export: %d %.200s", code, body)
	}
	code, backup := call("GET", "/api/v1/store/backup", "")
	if code != 200 || len(backup) < 4096 {
		t.Fatalf("backup: %d, %d bytes", code, len(backup))
	}
	if code, _, _ := httpCall(t, "GET", base+"/api/v1/store/backup", "viewer-z1", testPassword, "", ""); code != 403 {
		t.Fatalf("backup as a viewer: %d", code)
	}
	// The copy is a store of its own, with everything in it.
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(copyPath, []byte(backup), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(copyPath, boltstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup is not a store: %v", err)
	}
	defer st.Close()
	snap, err := st.Load(context.Background())
	if err != nil || len(snap.Devices) != len(c.devs) || len(snap.Operators) != 1 {
		t.Fatalf("the backup holds %d devices and %d operators (%v), want %d and 1", len(snap.Devices), len(snap.Operators), err, len(c.devs))
	}
}
