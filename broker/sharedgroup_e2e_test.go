package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
)

// withViewerZ2 adds a viewer of zone z2.
func withViewerZ2(t *testing.T) func(*broker.Config) {
	return func(cfg *broker.Config) {
		cfg.Users = append(cfg.Users, broker.User{Name: "viewer-z2", Role: broker.RoleViewer, Zones: []string{"z2"}, PasswordHash: passwordHash(t)})
	}
}

// TestSharedGroupDeliversToMembersThatMayRead: a viewer of z1 and a viewer
// of z2 in one shared group ($share/g/city/#): every one of 60 z1 messages
// reaches the z1 viewer, and z2's messages the z2 viewer; a shared filter
// a viewer can never read ($share/g/city/z1/# for the z2 viewer) is refused
// with SUBACK 0x87.
func TestSharedGroupDeliversToMembersThatMayRead(t *testing.T) {
	c := startCity(t, withViewerZ2(t))
	v1 := c.connect(t, "app-z1", "viewer-z1")
	v2 := c.connect(t, "app-z2", "viewer-z2")
	const group = "$share/g/city/#"
	got1, got2 := subscribe(t, v1, group), subscribe(t, v2, group)

	z1, z2 := c.connect(t, "sl-1", ""), c.connect(t, "aq-9", "")
	const n = 60
	for i := range n {
		publish(t, z1, "city/z1/sl-1/tele/power", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/tele/power", []byte(fmt.Sprintf(`{"w":%d}`, i))))
	}
	publish(t, z2, "city/z2/aq-9/tele/pm", 1, c.devs["aq-9"].sign(t, "city/z2/aq-9/tele/pm", []byte(`{"pm25":1}`)))
	for i := range n {
		if m := got1.next(t); m.Topic() != "city/z1/sl-1/tele/power" {
			t.Fatalf("z1 viewer's message %d: %s", i, m.Topic())
		}
	}
	if m := got2.next(t); m.Topic() != "city/z2/aq-9/tele/pm" {
		t.Fatalf("z2 viewer received %s", m.Topic())
	}

	conn5 := c.connect5(t, "app-z2-5", "viewer-z2", testPassword, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := conn5.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{
		{Topic: "$share/g/city/z1/#", QoS: 1}, {Topic: "$share/g/$twin/z1/+/reported", QoS: 1}, {Topic: "$share/g/city/z2/#", QoS: 1},
	}})
	if ack == nil || len(ack.Reasons) != 3 || ack.Reasons[0] != 0x87 || ack.Reasons[1] != 0x87 || ack.Reasons[2] != 1 {
		t.Fatalf("SUBACK %+v (%v), want 0x87, 0x87, granted QoS 1", ack, err)
	}
}

// TestSysTopicsForAdminsAndAuditors: $SYS (the broker's own state) is
// refused to devices, viewers, gateways and operators, and readable by
// admins and auditors.
func TestSysTopicsForAdminsAndAuditors(t *testing.T) {
	c := startCity(t, nil)
	for _, who := range []struct {
		client paho.Client
		name   string
	}{
		{c.connect(t, "sl-1", ""), "device"}, {c.connect(t, "app-1", "viewer-z1"), "viewer"}, {c.connect(t, "gw-1", "gw"), "gateway"},
	} {
		for _, f := range []string{"$SYS/#", "$SYS/broker/uptime", "$share/s/$SYS/#"} {
			tok := who.client.Subscribe(f, 1, nil)
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("%s subscribe %s: %v", who.name, f, tok.Error())
			}
			// One filter, one result (paho keys it without $share/{group}/).
			for _, code := range tok.(*paho.SubscribeToken).Result() {
				if code != 0x80 {
					t.Fatalf("%s was granted %s (%#x)", who.name, f, code)
				}
			}
		}
	}
	for _, user := range []string{"admin", "auditor"} {
		sys := subscribe(t, c.connect(t, "sys-"+user, user), "$SYS/broker/uptime")
		if m := sys.next(t); m.Topic() != "$SYS/broker/uptime" {
			t.Fatalf("%s received %s", user, m.Topic())
		}
	}
}
