package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// device is a simulated device known to the test: its key and counter.
type device struct {
	id, zone, kind string
	key            signing.PrivateKey
	kid            []byte
	ctr            atomic.Uint64
}

func (d *device) sign(t testing.TB, topic string, payload []byte) []byte {
	t.Helper()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1)}, payload, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// token is the device's connect token (broker.AccessHook).
func (d *device) token(t testing.TB, clientID string) []byte {
	t.Helper()
	now := time.Now().Unix()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1), IssuedAt: &now}, []byte(clientID), broker.ConnectTopic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func newDevice(t testing.TB, id, zone, kind string, alg signing.Alg) *device {
	k, err := signing.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return &device{id: id, zone: zone, kind: kind, key: k, kid: signing.KeyID(k.Public())}
}

// city is a broker on a loopback port with a few enrolled devices.
type city struct {
	srv   *broker.Server
	store string // the store file, for reopening after Shutdown
	audit string // the audit log file
	devs  map[string]*device
}

const testPassword = "correct horse battery staple"

var (
	hashOnce sync.Once
	pwHash   string
)

func passwordHash(t testing.TB) string {
	hashOnce.Do(func() {
		h, err := broker.HashPassword(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		pwHash = h
	})
	return pwHash
}

func startCity(t *testing.T, mutate func(*broker.Config)) *city {
	t.Helper()
	return startCityWith(t, mutate, nil)
}

// startCityWith also lets enroll add records (operators, authorities) to the
// registry before the broker opens it.
func startCityWith(t *testing.T, mutate func(*broker.Config), enroll func(context.Context, *devices.Registry)) *city {
	t.Helper()
	dir := t.TempDir()
	c := &city{devs: map[string]*device{}}
	for _, d := range []*device{
		newDevice(t, "sl-1", "z1", "streetlight", signing.AlgEd25519),
		newDevice(t, "sl-2", "z1", "streetlight", signing.AlgEd25519),
		newDevice(t, "sl-3", "z1", "streetlight", signing.AlgEdDSA),
		newDevice(t, "sl-r", "z1", "streetlight", signing.AlgEd25519),
		newDevice(t, "aq-9", "z2", "air-quality", signing.AlgES256),
	} {
		c.devs[d.id] = d
	}
	storePath := filepath.Join(dir, "signet.db")
	store, err := boltstore.Open(storePath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := devices.NewRegistry(store, nil)
	ctx := context.Background()
	for _, d := range c.devs {
		pub := d.key.Public()
		err := reg.Enroll(ctx, devices.Device{ID: d.id, Zone: d.zone, Kind: d.kind, Keys: []devices.Key{{
			KID: d.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := reg.RevokeKey(ctx, c.devs["sl-r"].kid); err != nil {
		t.Fatal(err)
	}
	if enroll != nil {
		enroll(ctx, reg)
	}
	store.Close()
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP = storePath, "127.0.0.1:0", ""
	cfg.Audit = filepath.Join(dir, "audit.jsonl")
	h := passwordHash(t)
	cfg.Users = []broker.User{
		{Name: "admin", Role: broker.RoleAdmin, PasswordHash: h},
		{Name: "auditor", Role: broker.RoleAuditor, PasswordHash: h},
		{Name: "gw", Role: broker.RoleGateway, Zones: []string{"z1"}, PasswordHash: h},
		{Name: "viewer-z1", Role: broker.RoleViewer, Zones: []string{"z1"}, PasswordHash: h},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := broker.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c.srv, c.store, c.audit = srv, storePath, cfg.Audit
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		// The audit chain is intact after every test.
		if _, err := audit.Open(cfg.Audit); err != nil {
			t.Errorf("audit log after shutdown: %v", err)
		}
	})
	return c
}

// connect opens a paho (MQTT 3.1.1) client; user "" connects as the device
// with id clientID using a connect token.
func (c *city) connect(t *testing.T, clientID, user string) paho.Client {
	t.Helper()
	// WriteTimeout also bounds how long Publish waits to hand a packet to a
	// connection the broker has just dropped (paho's default: 30 s).
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetOrderMatters(true).
		SetWriteTimeout(5 * time.Second)
	if user == "" {
		d := c.devs[clientID]
		opts.SetUsername(d.id).SetPassword(string(d.token(t, clientID)))
	} else {
		opts.SetUsername(user).SetPassword(testPassword)
	}
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl
}

func publish(t *testing.T, cl paho.Client, topic string, qos byte, payload []byte) {
	t.Helper()
	tok := cl.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// collector gathers messages from a subscription.
type collector struct {
	ch chan paho.Message
}

func subscribe(t *testing.T, cl paho.Client, filter string) *collector {
	t.Helper()
	c := &collector{ch: make(chan paho.Message, 1024)}
	tok := cl.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { c.ch <- m })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return c
}

// next returns the next message, failing after a generous deadline (a
// liveness bound, not a timing assertion).
func (c *collector) next(t *testing.T) paho.Message {
	t.Helper()
	select {
	case m := <-c.ch:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no message arrived")
		return nil
	}
}

func TestSignedStateUpdatesTwinAndReachesSubscribers(t *testing.T) {
	c := startCity(t, nil)
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	twins := subscribe(t, admin, "$twin/z1/sl-1/reported")
	dev := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"on":true,"level":70}`))
	publish(t, dev, tp, 1, msg)

	got := city.next(t)
	if got.Topic() != tp || string(got.Payload()) != string(msg) {
		t.Fatalf("subscriber got %s %x, want the original message unchanged", got.Topic(), got.Payload())
	}
	// Earlier twin changes (the connect token's counter) publish first;
	// the state message's change is the last one.
	var part struct {
		Version  uint64         `json:"version"`
		Reported map[string]any `json:"reported"`
	}
	for part.Reported["level"] == nil {
		if err := json.Unmarshal(twins.next(t).Payload(), &part); err != nil {
			t.Fatal(err)
		}
	}
	if reported := part.Reported; reported["level"] != 70.0 || reported["on"] != true || part.Version != 1 {
		t.Fatalf("$twin reported = %+v", part)
	}
	doc, ok := c.srv.Edge().Twin("sl-1")
	if m, _ := doc.Meta.Reported.At("level"); !ok || doc.Version != 1 || doc.Reported["level"] != 70.0 || m.KID != signing.FormatKeyID(c.devs["sl-1"].kid) {
		t.Fatalf("twin = %+v", doc)
	}
}

// TestEveryRejectionReason crafts one message per SPEC §4 reason (rate_limited
// is TestRateLimitedClient; expired and unsafe_command, which only commands
// produce, are TestCommandsAreCheckedByTheBroker), and checks that none reaches a subscriber or
// the twin, and that each yields exactly one security event with its reason.
func TestEveryRejectionReason(t *testing.T) {
	c := startCity(t, nil)
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")

	sl1, sl2, sl3, slr := c.devs["sl-1"], c.devs["sl-2"], c.devs["sl-3"], c.devs["sl-r"]
	dev := c.connect(t, "sl-1", "")
	gw := c.connect(t, "gw-1", "gw")
	stranger := newDevice(t, "sl-1", "z1", "streetlight", signing.AlgEd25519)
	stranger.kid = []byte("not-enrolled")

	replayed := sl1.sign(t, "city/z1/sl-1/tele/power", []byte(`{"w":40}`))
	publish(t, dev, "city/z1/sl-1/tele/power", 1, replayed) // accepted once
	if m := city.next(t); m.Topic() != "city/z1/sl-1/tele/power" {
		t.Fatalf("first copy not delivered: %s", m.Topic())
	}
	tampered := sl1.sign(t, "city/z1/sl-1/state", []byte(`{"level":10}`))
	tampered[len(tampered)-1] ^= 1
	wrongAlg, err := signing.Sign(sl1.key, signing.Header{KID: sl3.kid, Counter: 1}, []byte(`{}`), "city/z1/sl-3/state")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		reason  signing.Reason
		client  paho.Client
		topic   string
		payload []byte
	}{
		{signing.ReasonBadTopic, dev, "city/z1/sl-1/bogus", sl1.sign(t, "city/z1/sl-1/bogus", []byte(`{}`))},
		{signing.ReasonZoneMismatch, dev, "city/z2/sl-1/state", sl1.sign(t, "city/z2/sl-1/state", []byte(`{}`))},
		{signing.ReasonMalformed, dev, "city/z1/sl-1/state", []byte(`{"level":10}`)},
		{signing.ReasonUnknownKID, dev, "city/z1/sl-1/state", stranger.sign(t, "city/z1/sl-1/state", []byte(`{}`))},
		{signing.ReasonRevoked, gw, "city/z1/sl-r/state", slr.sign(t, "city/z1/sl-r/state", []byte(`{}`))},
		{signing.ReasonImpersonation, dev, "city/z1/sl-2/state", sl2.sign(t, "city/z1/sl-2/state", []byte(`{}`))},
		{signing.ReasonImpersonation, dev, "city/z1/sl-2/state", sl1.sign(t, "city/z1/sl-2/state", []byte(`{}`))},
		{signing.ReasonAlgMismatch, gw, "city/z1/sl-3/state", wrongAlg},
		{signing.ReasonReplay, dev, "city/z1/sl-1/tele/power", replayed},
		{signing.ReasonBadSignature, dev, "city/z1/sl-1/state", tampered},
		{signing.ReasonBadSignature, dev, "city/z1/sl-1/evt/lamp-fault", sl1.sign(t, "city/z1/sl-1/tele/power", []byte(`{}`))},
		{signing.ReasonUnauthorizedCommand, dev, "city/z1/sl-1/cmd/dim", sl1.sign(t, "city/z1/sl-1/cmd/dim", []byte(`{}`))},
		{signing.ReasonInvalidState, dev, "city/z1/sl-1/state", sl1.sign(t, "city/z1/sl-1/state", []byte(`{"level":500}`))},
	}
	before, _ := c.srv.Edge().Twin("sl-1")
	for i, tc := range cases {
		publish(t, tc.client, tc.topic, byte(i%3), tc.payload)
		var ev audit.Event
		if err := json.Unmarshal(events.next(t).Payload(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Reason != string(tc.reason) || ev.Topic != tc.topic {
			t.Fatalf("case %d: event %s on %s (%s), want %s on %s", i, ev.Reason, ev.Topic, ev.Detail, tc.reason, tc.topic)
		}
	}
	// A sentinel after all of them: anything leaked would have arrived first.
	ok := sl1.sign(t, "city/z1/sl-1/tele/power", []byte(`{"w":41}`))
	publish(t, dev, "city/z1/sl-1/tele/power", 1, ok)
	if m := city.next(t); string(m.Payload()) != string(ok) {
		t.Fatalf("a rejected message reached a subscriber: %s %x", m.Topic(), m.Payload())
	}
	// Exactly one event per case: the next event is the marker's.
	publish(t, admin, "city/z1/marker/bogus", 0, []byte("marker"))
	var marker audit.Event
	if err := json.Unmarshal(events.next(t).Payload(), &marker); err != nil || marker.Topic != "city/z1/marker/bogus" {
		t.Fatalf("extra security event before the marker: %+v", marker)
	}
	after, _ := c.srv.Edge().Twin("sl-1")
	if fmt.Sprint(after.Reported) != fmt.Sprint(before.Reported) {
		t.Fatalf("twin reported changed: %v -> %v", before.Reported, after.Reported)
	}
	if after.Security.Rejected[string(signing.ReasonInvalidState)] != 1 || after.Security.Rejected[string(signing.ReasonReplay)] != 1 {
		t.Fatalf("twin security counters: %v", after.Security.Rejected)
	}
}

func TestRateLimitedClient(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.RatePerClient, cfg.RateBurst = 0.001, 2 })
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	dev := c.connect(t, "sl-1", "")
	for range 3 {
		publish(t, dev, "city/z1/sl-1/tele/power", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/tele/power", []byte(`{}`)))
	}
	var ev audit.Event
	json.Unmarshal(events.next(t).Payload(), &ev)
	if ev.Reason != string(signing.ReasonRateLimited) {
		t.Fatalf("event %+v, want rate_limited", ev)
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Security.Accepted != 3 || doc.Security.Rejected["rate_limited"] != 1 {
		// 3 accepted: the connect token and the two messages of the burst.
		t.Fatalf("twin security %+v, want 3 accepted and one rate_limited", doc.Security)
	}
}

// connectWith connects with explicit credentials; it returns nil when the
// broker refuses (and fails the test if want says it should connect).
func (c *city) connectWith(t *testing.T, clientID, user, pass string, want bool) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetUsername(user).SetPassword(pass)
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	tok.WaitTimeout(10 * time.Second)
	if tok.Error() != nil {
		if want {
			t.Fatalf("connect %s as %s: %v", clientID, user, tok.Error())
		}
		return nil
	}
	t.Cleanup(func() { cl.Disconnect(10) })
	return cl
}

func mustSignToken(t *testing.T, d *device, clientID string, iat int64) []byte {
	t.Helper()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1), IssuedAt: &iat}, []byte(clientID), broker.ConnectTopic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}
