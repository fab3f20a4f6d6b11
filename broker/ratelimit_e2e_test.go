package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
)

// TestRateLimitPerIdentity: five connections of one device, each with its
// own client id, together get the device's burst and no more, and the
// bucket survives a reconnect; another device keeps its own rate
// meanwhile. The rate (one message in 1000 s) refills nothing during the
// test, so the count of outcomes, not time, decides.
func TestRateLimitPerIdentity(t *testing.T) {
	const burst = 4
	c := startCity(t, func(cfg *broker.Config) { cfg.RatePerClient, cfg.RateBurst = 0.001, burst })
	d := c.devs["sl-1"]
	connectAs := func(clientID string) *paho5.Client {
		cl, ack, err := dial5(t, c, &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true,
			Username: "sl-1", Password: d.token(t, clientID)}, nil)
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("connect %s: %v %+v", clientID, err, ack)
		}
		return cl
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	send := func(cl *paho5.Client, dev string) byte {
		tp := "city/z1/" + dev + "/tele/power"
		resp, err := cl.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: c.devs[dev].sign(t, tp, []byte(`{"w":1}`))})
		if resp == nil {
			t.Fatalf("publish: %v", err)
		}
		return resp.ReasonCode
	}
	conns := make([]*paho5.Client, 5)
	for i := range conns {
		conns[i] = connectAs(fmt.Sprintf("sl-1-conn-%d", i))
	}
	other := c.connect5(t, "sl-2", "", "", nil)
	accepted, limited := 0, 0
	for round := range 3 {
		for _, cl := range conns {
			switch code := send(cl, "sl-1"); code {
			case 0x00:
				accepted++
			case 0x87:
				limited++
			default:
				t.Fatalf("reason %#x", code)
			}
		}
		if code := send(other.Client, "sl-2"); code != 0x00 {
			t.Fatalf("round %d: another device was refused (%#x)", round, code)
		}
	}
	if accepted != burst || limited != 15-burst {
		t.Fatalf("five connections of one device: %d accepted, %d rate limited; want %d and %d", accepted, limited, burst, 15-burst)
	}
	// Reconnecting gives no fresh bucket.
	for _, cl := range conns {
		cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	}
	again := connectAs("sl-1-conn-0")
	if code := send(again, "sl-1"); code != 0x87 {
		t.Fatalf("after reconnecting: reason %#x, want 0x87 (still over its rate)", code)
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Security.Rejected["rate_limited"] != 15-burst+1 {
		t.Fatalf("twin security %+v, want %d rate_limited", doc.Security, 15-burst+1)
	}
}
