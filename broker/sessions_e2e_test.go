package broker_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
)

// dial5 sends an MQTT 5 CONNECT and returns the client and its CONNACK
// (err set when the broker refused or the exchange failed).
func dial5(t *testing.T, c *city, cp *paho5.Connect, onPublish func(*paho5.Publish)) (*paho5.Client, *paho5.Connack, error) {
	t.Helper()
	conn, err := net.Dial("tcp", c.srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := paho5.ClientConfig{Conn: conn, ClientID: cp.ClientID}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho5.PublishReceived) (bool, error){
			func(pr paho5.PublishReceived) (bool, error) { onPublish(pr.Packet); return true, nil },
		}
	}
	cl := paho5.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, cp)
	return cl, ack, err
}

// TestDeviceIDIsTheDevicesAlone: an anonymous client, a viewer or another
// device that connects first with a registered device's id is refused
// (with a security event), and the device then connects and publishes.
func TestDeviceIDIsTheDevicesAlone(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	squatters := []struct{ name, user, pass string }{
		{"anonymous", "", ""},
		{"viewer", "viewer-z1", testPassword},
		{"another device", "sl-2", string(c.devs["sl-2"].token(t, "sl-1"))},
	}
	for _, sq := range squatters {
		if c.connectWith(t, "sl-1", sq.user, sq.pass, false) != nil {
			t.Fatalf("%s connected with device sl-1's client id", sq.name)
		}
		if ev := nextEvent(t, events); ev.Reason != "client_id_reserved" || ev.Client != "sl-1" {
			t.Fatalf("%s: event %+v, want client_id_reserved", sq.name, ev)
		}
	}
	// The device connects and works; a viewer with an id of its own too.
	admin := c.connect(t, "ops-console", "admin")
	msgs := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-1", "")
	good := c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":3}`))
	publish(t, dev, "city/z1/sl-1/state", 1, good)
	if m := msgs.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("device's message: %s %x", m.Topic(), m.Payload())
	}
	c.connectWith(t, "viewer-app", "viewer-z1", testPassword, true)
	// Its own id again, while connected: the device takes its session over.
	c.connect(t, "sl-1", "")
}

// TestSessionBindingsEndWithTheirSessions: 6,000 short connections with
// distinct client ids leave the session table at its size before them, and
// a persistent session's binding ends when the session expires; a device
// connected all along keeps publishing.
func TestSessionBindingsEndWithTheirSessions(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	admin := c.connect(t, "ops-console", "admin")
	msgs := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-1", "")
	baseline := gauge(t, c, "signet_client_sessions")
	if baseline != 2 {
		t.Fatalf("sessions before = %v, want 2 (admin and device)", baseline)
	}
	const n, workers = 6000, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID(fmt.Sprintf("short-%05d", i)).
					SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetCleanSession(true)
				cl := paho.NewClient(opts)
				if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
					errs <- fmt.Errorf("connection %d: %v", i, tok.Error())
					return
				}
				cl.Disconnect(0)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "the session table back at its baseline", func() bool { return gauge(t, c, "signet_client_sessions") == baseline })

	// A persistent MQTT 5 session of one second: bound while it lives,
	// unbound once mochi expires it.
	expiry := uint32(1)
	cl, ack, err := dial5(t, c, &paho5.Connect{ClientID: "brief", CleanStart: true, KeepAlive: 30,
		Properties: &paho5.ConnectProperties{SessionExpiryInterval: &expiry}}, nil)
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect: %v %+v", err, ack)
	}
	if got := gauge(t, c, "signet_client_sessions"); got != baseline+1 {
		t.Fatalf("sessions with a persistent client = %v, want %v", got, baseline+1)
	}
	cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	waitFor(t, "the expired session unbound", func() bool { return gauge(t, c, "signet_client_sessions") == baseline })

	good := c.devs["sl-1"].sign(t, "city/z1/sl-1/tele/power", []byte(`{"w":1}`))
	publish(t, dev, "city/z1/sl-1/tele/power", 1, good)
	if m := msgs.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("device's message: %s %x", m.Topic(), m.Payload())
	}
}

// TestLongClientIDRefused: a 200-byte client id gets CONNACK 0x85 (MQTT 5)
// or 0x02 (3.1.1) before any credential is looked at; a 128-byte one is
// fine.
func TestLongClientIDRefused(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	long := strings.Repeat("x", 200)
	_, ack, err := dial5(t, c, &paho5.Connect{ClientID: long, CleanStart: true, KeepAlive: 30}, nil)
	if ack == nil || ack.ReasonCode != 0x85 {
		t.Fatalf("200-byte id over MQTT 5: %v %+v, want CONNACK 0x85", err, ack)
	}
	opts := paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID(long).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4)
	tok := paho.NewClient(opts).Connect()
	tok.WaitTimeout(10 * time.Second)
	if tok.Error() == nil || tok.(*paho.ConnectToken).ReturnCode() != 0x02 {
		t.Fatalf("200-byte id over 3.1.1: %v, want return code 2 (identifier rejected)", tok.Error())
	}
	ok := c.connectWith(t, strings.Repeat("y", 128), "", "", true)
	publish(t, ok, "lobby/hello", 1, []byte("hi"))
}

// TestPersistentSessionGetsQueuedMessages: a viewer's persistent session
// (MQTT 3.1.1 clean session false, MQTT 5 session expiry > 0) receives on
// reconnect the messages published while it was away (MQTT-3.1.2-5), and
// never another zone's.
func TestPersistentSessionGetsQueuedMessages(t *testing.T) {
	for _, version := range []string{"3.1.1", "5"} {
		t.Run(version, func(t *testing.T) {
			c := startCity(t, nil)
			got := make(chan string, 64)
			// away subscribes and leaves; back reconnects to the session.
			var away, back func()
			switch version {
			case "3.1.1":
				opts := func() *paho.ClientOptions {
					return paho.NewClientOptions().AddBroker("tcp://" + c.srv.MQTTAddr()).SetClientID("viewer-app").
						SetUsername("viewer-z1").SetPassword(testPassword).SetCleanSession(false).
						SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
						SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m.Topic() + " " + string(m.Payload()) })
				}
				away = func() {
					cl := paho.NewClient(opts())
					if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
						t.Fatal(tok.Error())
					}
					if tok := cl.Subscribe("city/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
						t.Fatal(tok.Error())
					}
					cl.Disconnect(100)
				}
				back = func() {
					cl := paho.NewClient(opts())
					if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil || !tok.(*paho.ConnectToken).SessionPresent() {
						t.Fatalf("reconnect: %v (session present: %v)", tok.Error(), tok.(*paho.ConnectToken).SessionPresent())
					}
					t.Cleanup(func() { cl.Disconnect(10) })
				}
			case "5":
				expiry := uint32(300)
				cp := func(clean bool) *paho5.Connect {
					return &paho5.Connect{ClientID: "viewer-app", CleanStart: clean, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true,
						Username: "viewer-z1", Password: []byte(testPassword), Properties: &paho5.ConnectProperties{SessionExpiryInterval: &expiry}}
				}
				onPublish := func(p *paho5.Publish) { got <- p.Topic + " " + string(p.Payload) }
				away = func() {
					cl, ack, err := dial5(t, c, cp(true), onPublish)
					if err != nil || ack.ReasonCode != 0 {
						t.Fatalf("connect: %v %+v", err, ack)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, err := cl.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "city/#", QoS: 1}}}); err != nil {
						t.Fatal(err)
					}
					cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
				}
				back = func() {
					_, ack, err := dial5(t, c, cp(false), onPublish)
					if err != nil || ack.ReasonCode != 0 || !ack.SessionPresent {
						t.Fatalf("reconnect: %v %+v", err, ack)
					}
				}
			}
			away()
			// The broker has the viewer's session, disconnected, before
			// anything is published for it.
			waitFor(t, "the viewer's connection closed", func() bool { return gauge(t, c, "signet_clients_connected") == 0 })
			z2 := c.connect(t, "aq-9", "")
			z1 := c.connect(t, "sl-1", "")
			var want []string // z1's state messages, in the order published
			for i := range 3 {
				publish(t, z2, "city/z2/aq-9/state", 1, c.devs["aq-9"].sign(t, "city/z2/aq-9/state", []byte(fmt.Sprintf(`{"pm25":%d,"units":{"pm25":"ug/m3"}}`, i))))
				m := c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(fmt.Sprintf(`{"level":%d}`, i)))
				publish(t, z1, "city/z1/sl-1/state", 1, m)
				want = append(want, "city/z1/sl-1/state "+string(m))
			}
			back()
			// A live message on another topic may overtake the queued ones
			// (MQTT orders a topic's messages, not a session's), so the
			// viewer reads until it has all of them and the live one. The
			// queued are resent in the order they were published
			// (MQTT-4.6.0-1): a twin viewer must not end on an old state.
			// z2's messages, had they been queued, would have been resent
			// among z1's, before the last of them.
			live := c.devs["sl-1"].sign(t, "city/z1/sl-1/tele/power", []byte(`{"w":1}`))
			publish(t, z1, "city/z1/sl-1/tele/power", 1, live)
			sentinel := "city/z1/sl-1/tele/power " + string(live)
			var queued []string
			for seen := false; !seen || len(queued) < len(want); {
				var m string
				select {
				case m = <-got:
				case <-time.After(20 * time.Second):
					t.Fatalf("%d of %d queued z1 messages arrived (live one: %v)", len(queued), len(want), seen)
				}
				switch {
				case m == sentinel && !seen:
					seen = true
				case slices.Contains(want, m) && !slices.Contains(queued, m):
					queued = append(queued, m)
				default:
					t.Fatalf("the viewer of z1 received %q", m[:strings.IndexByte(m, ' ')])
				}
			}
			if !slices.Equal(queued, want) {
				t.Fatalf("queued z1 messages resent out of order:\n got %q\nwant %q", queued, want)
			}
		})
	}
}

// TestSessionQuotas: the session table is bounded in total and per
// identity (all anonymous clients sharing one allowance), a registered
// device's own id is admitted over both, and a session that ends frees its
// place.
func TestSessionQuotas(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.AllowAnonymous = true
		cfg.Clients.MaxSessions, cfg.Clients.MaxSessionsPerIdentity = 3, 2
	})
	first := c.connectWith(t, "anon-1", "", "", true)
	c.connectWith(t, "anon-2", "", "", true)
	if c.connectWith(t, "anon-3", "", "", false) != nil {
		t.Fatal("a third anonymous session beyond the per-identity bound of 2")
	}
	c.connectWith(t, "app-1", "viewer-z1", testPassword, true)
	if c.connectWith(t, "app-2", "viewer-z1", testPassword, false) != nil {
		t.Fatal("a fourth session beyond the total of 3")
	}
	// A clean session that ends frees its place.
	before := gauge(t, c, "signet_client_sessions")
	first.Disconnect(10)
	waitFor(t, "anon-1's session unbound", func() bool { return gauge(t, c, "signet_client_sessions") == before-1 })
	c.connectWith(t, "anon-3", "", "", true)
	// The table is full again; the device's own id fits all the same, and
	// the device works.
	dev := c.connect(t, "sl-1", "")
	good := c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":1}`))
	publish(t, dev, "city/z1/sl-1/state", 1, good)
	waitFor(t, "the device's state in its twin", func() bool {
		doc, _ := c.srv.Edge().Twin("sl-1")
		return doc.Reported["level"] == 1.0
	})
}
