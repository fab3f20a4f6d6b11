package broker_test

import (
	"context"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
)

// TestViewerSeesOnlyItsZone: a viewer of z1 with wildcard subscriptions
// receives z1's data and never z2's.
func TestViewerSeesOnlyItsZone(t *testing.T) {
	c := startCity(t, nil)
	viewer := c.connect(t, "viewer-1", "viewer-z1")
	filters := []string{"#", "city/+/+/state", "$twin/+/+/reported"}
	subs := make([]*collector, len(filters))
	for i, f := range filters {
		subs[i] = subscribe(t, viewer, f)
	}
	z2 := c.connect(t, "aq-9", "")
	publish(t, z2, "city/z2/aq-9/state", 1, c.devs["aq-9"].sign(t, "city/z2/aq-9/state", []byte(`{"pm25":3,"units":{"pm25":"ug/m3"}}`)))
	z1 := c.connect(t, "sl-1", "")
	publish(t, z1, "city/z1/sl-1/state", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":5}`)))
	for i, s := range subs {
		// The z2 message went first; the first delivery must be z1's.
		m := s.next(t)
		if m.Topic() != "city/z1/sl-1/state" && m.Topic() != "$twin/z1/sl-1/reported" {
			t.Fatalf("filter %q delivered %s to a z1 viewer", filters[i], m.Topic())
		}
	}
}

func TestWillOnCityTopicIsRefused(t *testing.T) {
	c := startCity(t, nil)
	d := c.devs["sl-1"]
	opts := paho.NewClientOptions().AddBroker("tcp://"+c.srv.MQTTAddr()).SetClientID("sl-1").
		SetUsername("sl-1").SetPassword(string(d.token(t, "sl-1"))).SetAutoReconnect(false).
		SetWill("city/z1/sl-1/state", `{"level":0}`, 1, true)
	tok := paho.NewClient(opts).Connect()
	tok.WaitTimeout(10 * time.Second)
	if tok.Error() == nil {
		t.Fatal("a client with a will on city/ was accepted")
	}
	// The same client without the will connects.
	c.connect(t, "sl-1", "")
}

func TestDeviceCannotTakeOverAnothersSession(t *testing.T) {
	c := startCity(t, nil)
	victim := c.connect(t, "sl-1", "")
	thief := c.devs["sl-2"]
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID("sl-1").
		SetUsername("sl-2").SetPassword(string(thief.token(t, "sl-1"))).SetAutoReconnect(false)
	tok := paho.NewClient(opts).Connect()
	tok.WaitTimeout(10 * time.Second)
	if tok.Error() == nil {
		t.Fatal("sl-2 took over sl-1's session")
	}
	// The victim's session is intact: it still publishes and gets acks.
	publish(t, victim, "city/z1/sl-1/tele/power", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/tele/power", []byte(`{}`)))
	if !victim.IsConnectionOpen() {
		t.Fatal("victim was disconnected")
	}
}

// TestAuthFailures: every way of logging in fails as it should, each with
// exactly one auth_failed security event naming why: anonymous (not
// allowed), password, connect token (wrong id, other device, expired,
// revoked, replayed); certificates are in TestMutualTLSCertificateAndWebSocket.
func TestAuthFailures(t *testing.T) {
	// Every case logs in from the same address; the login back-off that
	// would refuse the cases after a failure has its own test.
	c := startCity(t, noLoginBackoff)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	replayed := d.token(t, "sl-1")
	c.connectWith(t, "sl-1", "sl-1", string(replayed), true).Disconnect(10)
	cases := []struct{ name, user, pass, client, reason string }{
		{"anonymous", "", "", "anon", "anonymous_refused"},
		{"wrong password", "admin", "nope", "ops", "bad_password"},
		{"unknown user", "mallory", "x", "m", "bad_password"}, // the same path as a user's (decoy hash)
		{"token for another id", "sl-1", string(d.token(t, "sl-9")), "sl-1", "bad_token"},
		{"token of another device", "sl-2", string(d.token(t, "sl-1")), "sl-1", "bad_token"},
		{"expired token", "sl-1", string(mustSignToken(t, d, "sl-1", time.Now().Add(-time.Hour).Unix())), "sl-1", "expired"},
		{"revoked key", "sl-r", string(c.devs["sl-r"].token(t, "sl-r")), "sl-r", "revoked"},
		{"replayed token", "sl-1", string(replayed), "sl-1", "replay"},
	}
	for _, tc := range cases {
		if c.connectWith(t, tc.client, tc.user, tc.pass, false) != nil {
			t.Errorf("%s: connected", tc.name)
		}
		if ev := nextEvent(t, events); ev.Kind != "auth_failed" || ev.Reason != tc.reason {
			t.Fatalf("%s: event %+v, want auth_failed %s", tc.name, ev, tc.reason)
		}
	}
}

// TestAnonymousOnlyOrdinaryTopics: with allow_anonymous, a client without
// credentials uses ordinary MQTT, and never city/, $twin/ or $security/.
func TestAnonymousOnlyOrdinaryTopics(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	admin := c.connect(t, "ops-console", "admin")
	cityMsgs := subscribe(t, admin, "city/#")
	anon := c.connectWith(t, "anon-1", "", "", true)
	for _, f := range []string{"city/#", "$twin/#", "$security/events", "#"} {
		tok := anon.Subscribe(f, 1, nil)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
		if st := tok.(*paho.SubscribeToken); st.Result()[f] != 0x80 {
			t.Fatalf("anonymous subscription to %s granted (%#x)", f, st.Result()[f])
		}
	}
	ordinary := subscribe(t, anon, "lobby/#")
	// QoS 0: mochi drops an ACL-denied message silently (at QoS 1 and 2 it
	// disconnects a 3.1.1 client).
	publish(t, anon, "city/z1/sl-1/state", 0, c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":1}`)))
	publish(t, anon, "lobby/hello", 1, []byte("hi"))
	if m := ordinary.next(t); string(m.Payload()) != "hi" {
		t.Fatalf("ordinary topic: %q", m.Payload())
	}
	dev := c.connect(t, "sl-1", "")
	good := c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":2}`))
	publish(t, dev, "city/z1/sl-1/state", 1, good)
	if m := cityMsgs.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("anonymous publish on city/ was delivered: %x", m.Payload())
	}
}

// TestMQTT5ReasonCodes: MQTT 5 clients learn why (SPEC §4): 0x87 for a bad
// signature or a replay, 0x99 for an undecodable envelope, success for a good
// message, at QoS 1 and 2, from a device's own connection (checked on
// mochi's reader) and from a gateway's (checked in turns).
func TestMQTT5ReasonCodes(t *testing.T) {
	for _, via := range []string{"device", "gateway"} {
		t.Run(via, func(t *testing.T) {
			c := startCity(t, nil)
			d := c.devs["sl-1"]
			cl := c.connect5(t, "sl-1", "", "", nil)
			if via == "gateway" {
				cl = c.connect5(t, "gw-5", "gw", testPassword, nil)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tampered := d.sign(t, "city/z1/sl-1/state", []byte(`{"level":1}`))
			tampered[len(tampered)-1] ^= 1
			replayed := d.sign(t, "city/z1/sl-1/tele/x", []byte(`{}`))
			cases := []struct {
				name, topic string
				qos         byte
				payload     []byte
				want        byte
			}{
				{"good", "city/z1/sl-1/state", 1, d.sign(t, "city/z1/sl-1/state", []byte(`{"level":2}`)), 0x00},
				{"bad signature QoS 1", "city/z1/sl-1/state", 1, tampered, 0x87},
				{"garbage QoS 1", "city/z1/sl-1/state", 1, []byte("not cose"), 0x99},
				{"garbage QoS 2", "city/z1/sl-1/state", 2, []byte("not cose"), 0x99},
				{"good QoS 2", "city/z1/sl-1/tele/x", 2, replayed, 0x00},
				{"replay QoS 2", "city/z1/sl-1/tele/x", 2, replayed, 0x87}, // the same again
			}
			for _, tc := range cases {
				resp, _ := cl.Publish(ctx, &paho5.Publish{Topic: tc.topic, QoS: tc.qos, Payload: tc.payload})
				if resp == nil || resp.ReasonCode != tc.want {
					t.Fatalf("%s: response %+v, want reason %#x", tc.name, resp, tc.want)
				}
			}
			if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Reported["level"] != 2.0 {
				t.Fatalf("twin level %v, want 2 (the good state message alone)", doc.Reported["level"])
			}
		})
	}
}

// TestOrdinaryMQTTStillWorks: outside city/, Signet is a plain broker for
// authenticated clients: retained messages, QoS 2, wills and shared
// subscriptions behave as MQTT says.
func TestOrdinaryMQTTStillWorks(t *testing.T) {
	c := startCity(t, nil)
	pub := c.connect(t, "app-1", "viewer-z1")
	publish(t, pub, "ops/notice", 1, []byte("retained"))
	tok := pub.Publish("ops/retained", 2, true, []byte("kept"))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	sub := c.connect(t, "app-2", "admin")
	ret := subscribe(t, sub, "ops/retained")
	if m := ret.next(t); string(m.Payload()) != "kept" || !m.Retained() {
		t.Fatalf("retained: %q retained=%v", m.Payload(), m.Retained())
	}
	shared := subscribe(t, sub, "$share/workers/jobs/#")
	tok = pub.Publish("jobs/1", 2, false, []byte("qos2"))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// Delivered at the subscription's QoS 1: min(publish QoS, granted QoS).
	if m := shared.next(t); string(m.Payload()) != "qos2" || m.Qos() != 1 {
		t.Fatalf("shared: %q qos %d", m.Payload(), m.Qos())
	}
	// A will outside city/ is published when its client goes away uncleanly:
	// the client's own TCP connection is dropped, with no DISCONNECT.
	wills := subscribe(t, sub, "ops/lwt")
	dying := c.connect5(t, "app-3", "viewer-z1", testPassword, &paho5.WillMessage{Topic: "ops/lwt", Payload: []byte("gone"), QoS: 1})
	dying.conn.Close()
	if m := wills.next(t); string(m.Payload()) != "gone" {
		t.Fatalf("will: %q", m.Payload())
	}
}
