package broker_test

import (
	"context"
	"net"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"
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
	publish(t, z2, "city/z2/aq-9/state", 1, c.devs["aq-9"].sign(t, "city/z2/aq-9/state", []byte(`{"pm25":3}`)))
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

func TestAuthFailures(t *testing.T) {
	c := startCity(t, nil)
	d := c.devs["sl-1"]
	expired := func() []byte { // a token signed an hour ago
		old := time.Now().Add(-time.Hour).Unix()
		return mustSignToken(t, d, "sl-1", old)
	}
	cases := map[string]struct{ user, pass, client string }{
		"anonymous":            {"", "", "anon"},
		"wrong password":       {"admin", "nope", "ops"},
		"unknown user":         {"mallory", "x", "m"},
		"token for another id": {"sl-1", string(d.token(t, "sl-9")), "sl-1"},
		"token of another dev": {"sl-2", string(d.token(t, "sl-1")), "sl-1"},
		"expired token":        {"sl-1", string(expired()), "sl-1"},
		"revoked key":          {"sl-r", string(c.devs["sl-r"].token(t, "sl-r")), "sl-r"},
	}
	replayed := d.token(t, "sl-1")
	c.connectWith(t, "sl-1", "sl-1", string(replayed), true).Disconnect(10)
	cases["replayed token"] = struct{ user, pass, client string }{"sl-1", string(replayed), "sl-1"}
	for name, tc := range cases {
		if c.connectWith(t, tc.client, tc.user, tc.pass, false) != nil {
			t.Errorf("%s: connected", name)
		}
	}
}

// TestMQTT5ReasonCodes: MQTT 5 clients learn why (SPEC §4): 0x87 for a bad
// signature, 0x99 for an undecodable envelope, success for a good message.
func TestMQTT5ReasonCodes(t *testing.T) {
	c := startCity(t, nil)
	d := c.devs["sl-1"]
	conn, err := net.Dial("tcp", c.srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: "sl-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: "sl-1", Username: "sl-1", UsernameFlag: true, PasswordFlag: true, Password: d.token(t, "sl-1"), CleanStart: true, KeepAlive: 30})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	defer cl.Disconnect(&paho5.Disconnect{})
	tampered := d.sign(t, "city/z1/sl-1/state", []byte(`{"level":1}`))
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name    string
		qos     byte
		payload []byte
		want    byte
	}{
		{"good", 1, d.sign(t, "city/z1/sl-1/state", []byte(`{"level":2}`)), 0x00},
		{"bad signature QoS 1", 1, tampered, 0x87},
		{"garbage QoS 1", 1, []byte("not cose"), 0x99},
		{"garbage QoS 2", 2, []byte("not cose"), 0x99},
		{"replay QoS 2", 2, d.sign(t, "city/z1/sl-1/tele/x", []byte(`{}`)), 0x00},
	}
	for _, tc := range cases {
		topic := "city/z1/sl-1/state"
		if tc.name == "replay QoS 2" {
			topic = "city/z1/sl-1/tele/x"
		}
		resp, _ := cl.Publish(ctx, &paho5.Publish{Topic: topic, QoS: tc.qos, Payload: tc.payload})
		if resp == nil || resp.ReasonCode != tc.want {
			t.Fatalf("%s: response %+v, want reason %#x", tc.name, resp, tc.want)
		}
	}
	// The same message again is a replay: 0x87 in the PUBREC.
	again := cases[len(cases)-1].payload
	resp, _ := cl.Publish(ctx, &paho5.Publish{Topic: "city/z1/sl-1/tele/x", QoS: 2, Payload: again})
	if resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("replay QoS 2: %+v, want 0x87", resp)
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
	// A will outside city/ is published when its client goes away uncleanly.
	wills := subscribe(t, sub, "ops/lwt")
	opts := paho.NewClientOptions().AddBroker("tcp://"+c.srv.MQTTAddr()).SetClientID("app-3").
		SetUsername("viewer-z1").SetPassword(testPassword).SetAutoReconnect(false).SetWill("ops/lwt", "gone", 1, false)
	dying := paho.NewClient(opts)
	if tok := dying.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	c.srv.CloseClient("app-3") // the network drops the client: no DISCONNECT
	if m := wills.next(t); string(m.Payload()) != "gone" {
		t.Fatalf("will: %q", m.Payload())
	}
}
