package natsstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/signing"
)

const appPassword = "namespace-test-password"

// withApps gives both brokers a viewer of z1, a viewer of z2 and an auditor.
func withApps(t *testing.T) func(*broker.Config) {
	h, err := broker.HashPassword(appPassword)
	if err != nil {
		t.Fatal(err)
	}
	return func(cfg *broker.Config) {
		cfg.Users = append(cfg.Users,
			broker.User{Name: "viewer-z1", Role: broker.RoleViewer, Zones: []string{"z1"}, PasswordHash: h},
			broker.User{Name: "viewer-z2", Role: broker.RoleViewer, Zones: []string{"z2"}, PasswordHash: h},
			broker.User{Name: "auditor", Role: broker.RoleAuditor, Zones: []string{"*"}, PasswordHash: h})
	}
}

// subscribe connects user to srv over MQTT 5, subscribes to filters and
// returns what it receives.
func subscribe(t *testing.T, srv *broker.Server, user string, filters ...string) <-chan *paho5.Publish {
	t.Helper()
	got := make(chan *paho5.Publish, 1024)
	conn, err := net.Dial("tcp", srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: user + "-app",
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(r paho5.PublishReceived) (bool, error) {
			got <- r.Packet
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: user + "-app", CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, PasswordFlag: true, Username: user, Password: []byte(appPassword)})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect %s: %v %+v", user, err, ack)
	}
	var subs []paho5.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho5.SubscribeOptions{Topic: f, QoS: 1})
	}
	sa, err := cl.Subscribe(ctx, &paho5.Subscribe{Subscriptions: subs})
	if err != nil {
		t.Fatalf("subscribe %s to %v: %v", user, filters, err)
	}
	for i, rc := range sa.Reasons {
		if rc > 2 {
			t.Fatalf("subscribe %s to %s: reason %#x", user, filters[i], rc)
		}
	}
	t.Cleanup(func() { cl.Disconnect(&paho5.Disconnect{}) })
	return got
}

// until receives from got up to and including the message on marker,
// and returns every topic and payload received before it.
func until(t *testing.T, got <-chan *paho5.Publish, marker string) []*paho5.Publish {
	t.Helper()
	var before []*paho5.Publish
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-got:
			if m.Topic == marker {
				return before
			}
			before = append(before, m)
		case <-deadline:
			for _, m := range before {
				t.Log(m.Topic)
			}
			t.Fatalf("no message on %s within %s (received %d before)", marker, waitTimeout, len(before))
		}
	}
}

// TestOneNamespaceAcrossBrokers: a city application subscribed on broker B
// receives, exactly once, the verified messages of a device connected to
// broker A (telemetry, its state change, its twin) and the security event
// of a replay refused at A; a viewer of another zone on B receives none of
// them; a refused message reaches nobody. Meanwhile a device connected to B
// goes on being accepted, and its messages reach B's subscriber once (never
// echoed back from A) and A's subscriber once.
func TestOneNamespaceAcrossBrokers(t *testing.T) {
	atA, atB, z2 := newDevice(t, "sl-1"), newDevice(t, "sl-2"), newDevice(t, "aq-9")
	z2.zone = "z2"
	d := startDistrictWith(t, withApps(t), atA, atB, z2)

	appB := subscribe(t, d.b, "viewer-z1", "city/z1/#", "$twin/z1/#")
	otherZoneB := subscribe(t, d.b, "viewer-z2", "city/#", "$twin/#")
	auditB := subscribe(t, d.b, "auditor", "$security/events")
	appA := subscribe(t, d.a, "viewer-z1", "city/z1/sl-2/#")

	devA, devB, devZ2 := atA.connect(t, d.a), atB.connect(t, d.b), z2.connect(t, d.a)
	const tele, state, teleB = "city/z1/sl-1/tele/power", "city/z1/sl-1/state", "city/z1/sl-2/tele/power"
	const n = 20
	var replayed []byte
	for i := range n {
		msg := atA.sign(t, tele, []byte(fmt.Sprintf(`{"w":%d}`, i)))
		if rc := publish(t, devA, tele, msg); rc != 0 {
			t.Fatalf("telemetry %d at A: reason %#x", i, rc)
		}
		replayed = msg
		if rc := publish(t, devB, teleB, atB.sign(t, teleB, []byte(fmt.Sprintf(`{"w":%d}`, i)))); rc != 0 {
			t.Fatalf("honest device at B, message %d: reason %#x", i, rc)
		}
	}
	if rc := publish(t, devA, tele, replayed); rc != 0x87 {
		t.Fatalf("replay at A: reason %#x, want 0x87", rc)
	}
	if rc := publish(t, devA, state, atA.sign(t, state, []byte(`{"on":true,"level":30}`))); rc != 0 {
		t.Fatalf("state change at A: reason %#x", rc)
	}
	// Markers, last: a broker delivers another's messages in the order
	// that broker sent them, so what a subscriber has received before the
	// marker is all it will receive of what came before.
	const markZ1, markZ2 = "city/z1/sl-1/evt/marker", "city/z2/aq-9/evt/marker"
	if rc := publish(t, devA, markZ1, atA.sign(t, markZ1, []byte(`{}`))); rc != 0 {
		t.Fatalf("marker at A: reason %#x", rc)
	}
	if rc := publish(t, devZ2, markZ2, z2.sign(t, markZ2, []byte(`{}`))); rc != 0 {
		t.Fatalf("z2 marker at A: reason %#x", rc)
	}

	counts := map[string]int{}
	for _, m := range until(t, appB, markZ1) {
		counts[m.Topic]++
	}
	// A publishes the twin beside the verify path, so its parts may follow
	// the marker: wait for each, then send a second marker after them, by
	// which any second copy would have arrived too.
	parts := []string{"reported", "desired", "delta", "meta"}
	twinSeen := func() bool {
		for _, part := range parts {
			if counts["$twin/z1/sl-1/"+part] == 0 {
				return false
			}
		}
		return true
	}
	twinDeadline := time.After(waitTimeout)
	for !twinSeen() {
		select {
		case m := <-appB:
			counts[m.Topic]++
		case <-twinDeadline:
			t.Fatalf("B's z1 viewer never received every part of the twin of the device at A (%v)", counts)
		}
	}
	if rc := publish(t, devA, markZ1, atA.sign(t, markZ1, []byte(`{}`))); rc != 0 {
		t.Fatalf("second marker at A: reason %#x", rc)
	}
	for _, m := range until(t, appB, markZ1) {
		counts[m.Topic]++
	}
	if counts[tele] != n || counts[state] != 1 {
		t.Fatalf("B's z1 viewer received %d telemetry and %d state messages of the device at A, want %d and 1 (%v)", counts[tele], counts[state], n, counts)
	}
	for _, part := range parts {
		if c := counts["$twin/z1/sl-1/"+part]; c != 1 {
			t.Fatalf("B's z1 viewer received $twin/z1/sl-1/%s %d times, want once", part, c)
		}
	}
	// B's own device: at most n on B (some may follow the marker, as they
	// are B's and A's marker is A's), never more, and exactly n at A.
	if counts[teleB] > n {
		t.Fatalf("B's z1 viewer received the device at B's telemetry %d times for %d messages: echoed back", counts[teleB], n)
	}
	if got := until(t, otherZoneB, markZ2); len(got) != 0 {
		t.Fatalf("B's z2 viewer received %d messages of zone z1, first %s", len(got), got[0].Topic)
	}
	var fromB int
	deadline := time.After(waitTimeout)
	for fromB < n {
		select {
		case m := <-appA:
			if m.Topic != teleB {
				t.Fatalf("A's subscriber to city/z1/sl-2/# received %s", m.Topic)
			}
			fromB++
		case <-deadline:
			t.Fatalf("A's subscriber received %d of the device at B's %d messages", fromB, n)
		}
	}
	select {
	case m := <-appA:
		t.Fatalf("A's subscriber received an extra message %s", m.Topic)
	default:
	}

	var replays int
	for replays == 0 {
		select {
		case m := <-auditB:
			var ev audit.Event
			if err := json.Unmarshal(m.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Reason == string(signing.ReasonReplay) && ev.Topic == tele {
				replays++
			}
		case <-time.After(waitTimeout):
			t.Fatal("B's auditor never received the replay refused at A")
		}
	}
}
