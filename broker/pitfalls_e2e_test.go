package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker/audit"
)

// client5 is an MQTT 5 client (paho.golang) with its own TCP connection, so
// a test can drop the connection as a network failure would.
type client5 struct {
	*paho5.Client
	conn net.Conn
}

// connect5 connects an MQTT 5 client; user "" connects as the device
// clientID with a connect token.
func (c *city) connect5(t *testing.T, clientID, user, pass string, will *paho5.WillMessage) *client5 {
	t.Helper()
	conn, err := net.Dial("tcp", c.srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: clientID})
	cp := &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true, WillMessage: will}
	if user == "" {
		cp.Username, cp.Password = clientID, c.devs[clientID].token(t, clientID)
	} else {
		cp.Username, cp.Password = user, []byte(pass)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, cp)
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect %s (MQTT 5): %v %+v", clientID, err, ack)
	}
	t.Cleanup(func() { conn.Close() })
	return &client5{Client: cl, conn: conn}
}

// nextEvent reads the next security event from an auditor's subscription.
func nextEvent(t *testing.T, events *collector) audit.Event {
	t.Helper()
	var ev audit.Event
	if err := json.Unmarshal(events.next(t).Payload(), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestRejectedMessageReachesNoSubscriber closes mochi's OnPublish pitfall:
// only ErrRejectPacket (or an MQTT 5 reason code at QoS > 0) stops a
// message. A tampered message from an MQTT 3.1.1 and an MQTT 5 client, at
// QoS 0, 1 and 2, reaches no subscriber, leaves the twin alone, and yields
// exactly one security event; MQTT 5 clients at QoS 1 and 2 are told 0x87.
func TestRejectedMessageReachesNoSubscriber(t *testing.T) {
	c := startCity(t, nil)
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	const tp = "city/z1/sl-1/state"
	tampered := func(level int) []byte {
		m := d.sign(t, tp, []byte(fmt.Sprintf(`{"level":%d}`, level)))
		m[len(m)-1] ^= 1
		return m
	}
	v311 := c.connect(t, "sl-1", "")
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("MQTT 3.1.1 QoS %d", qos), func(t *testing.T) {
			publish(t, v311, tp, qos, tampered(90+int(qos)))
			if ev := nextEvent(t, events); ev.Reason != "bad_signature" || ev.Client != "sl-1" {
				t.Fatalf("event %+v, want bad_signature from sl-1", ev)
			}
		})
	}
	v311.Disconnect(100)
	v5 := c.connect5(t, "sl-1", "", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for qos := byte(0); qos <= 2; qos++ {
		t.Run(fmt.Sprintf("MQTT 5 QoS %d", qos), func(t *testing.T) {
			resp, err := v5.Publish(ctx, &paho5.Publish{Topic: tp, QoS: qos, Payload: tampered(95 + int(qos))})
			if qos > 0 && (resp == nil || resp.ReasonCode != 0x87) {
				t.Fatalf("response %+v (%v), want reason 0x87", resp, err)
			}
			if ev := nextEvent(t, events); ev.Reason != "bad_signature" {
				t.Fatalf("event %+v, want bad_signature", ev)
			}
		})
	}
	// A good message after all six: the first thing the subscriber gets.
	good := d.sign(t, tp, []byte(`{"level":7}`))
	if resp, err := v5.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: good}); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("good message: %+v %v", resp, err)
	}
	if m := city.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("a rejected message reached a subscriber: %s %x", m.Topic(), m.Payload())
	}
	// Exactly one event each: the next event is the marker's.
	publish(t, admin, "city/z1/sl-1/bogus", 0, []byte("marker"))
	if ev := nextEvent(t, events); ev.Reason != "bad_topic" {
		t.Fatalf("extra security event %+v before the marker", ev)
	}
	doc, _ := c.srv.Edge().Twin("sl-1")
	if doc.Reported["level"] != 7.0 || doc.Security.Rejected["bad_signature"] != 6 {
		t.Fatalf("twin reported %v, rejected %v", doc.Reported, doc.Security.Rejected)
	}
}

// TestWillOnSignetRootsNeverPublishes: wills skip OnPublish and the write
// ACL in mochi, so a client with a will on city/, $twin/ or $security/ is
// refused at CONNECT (3.1.1 and 5), with an auth_failed event, and nothing is
// ever published there.
func TestWillOnSignetRootsNeverPublishes(t *testing.T) {
	c := startCity(t, nil)
	admin := c.connect(t, "ops-console", "admin")
	all := subscribe(t, admin, "#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	for _, will := range []string{"city/z1/sl-1/state", "$twin/z1/sl-1/reported", "$security/events"} {
		opts := paho.NewClientOptions().AddBroker("tcp://"+c.srv.MQTTAddr()).SetClientID("sl-1").
			SetUsername("sl-1").SetPassword(string(d.token(t, "sl-1"))).SetAutoReconnect(false).
			SetProtocolVersion(4).SetWill(will, `{"level":0}`, 1, true)
		tok := paho.NewClient(opts).Connect()
		tok.WaitTimeout(10 * time.Second)
		if tok.Error() == nil {
			t.Fatalf("3.1.1 client with a will on %s was accepted", will)
		}
		if ev := nextEvent(t, events); ev.Reason != "will_refused" {
			t.Fatalf("event %+v, want will_refused", ev)
		}
	}
	// MQTT 5, dropping its connection at once: refused all the same.
	conn, err := net.Dial("tcp", c.srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: "sl-1"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, _ := cl.Connect(ctx, &paho5.Connect{ClientID: "sl-1", CleanStart: true, UsernameFlag: true, PasswordFlag: true,
		Username: "sl-1", Password: d.token(t, "sl-1"), WillMessage: &paho5.WillMessage{Topic: "city/z1/sl-1/state", Payload: []byte(`{}`), QoS: 1}})
	if ack != nil && ack.ReasonCode == 0 {
		t.Fatal("MQTT 5 client with a will on city/ was accepted")
	}
	conn.Close()
	if ev := nextEvent(t, events); ev.Reason != "will_refused" {
		t.Fatalf("event %+v, want will_refused", ev)
	}
	// The first message anyone sees afterwards is an ordinary marker.
	publish(t, admin, "ops/marker", 1, []byte("m"))
	for {
		m := all.next(t)
		if m.Topic() == "ops/marker" {
			break
		}
		if m.Topic() != "$security/events" {
			t.Fatalf("a will was published on %s: %s", m.Topic(), m.Payload())
		}
	}
}
