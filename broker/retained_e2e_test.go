package broker_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"

	"github.com/signet-city/signet/broker"
)

// counter reads a counter of the broker's metrics.
func counter(t *testing.T, c *city, name string) float64 {
	t.Helper()
	families, err := c.srv.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && f.GetType() == dto.MetricType_COUNTER {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestRetainedQuota: retained messages outside city/ are bounded per
// identity (count, bytes) and in total: over quota, MQTT 5 QoS 1 gets
// PUBACK 0x97 and QoS 0 is dropped and counted, and nothing over quota is
// stored; replacing or clearing one's own retained message is always
// allowed, and another client within its quota keeps retaining.
func TestRetainedQuota(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.AllowAnonymous = true
		cfg.Clients.RetainedPerClient, cfg.Clients.RetainedBytesPerClient, cfg.Clients.RetainedTotalBytes = 3, 1000, 1500
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	anon := func(id string) *paho5.Client {
		cl, ack, err := dial5(t, c, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}, nil)
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("connect %s: %v %+v", id, err, ack)
		}
		return cl
	}
	retain := func(cl *paho5.Client, tp string, qos byte, payload []byte) byte {
		t.Helper()
		resp, err := cl.Publish(ctx, &paho5.Publish{Topic: tp, QoS: qos, Retain: true, Payload: payload})
		switch {
		case qos == 0 && err == nil:
			return 0
		case resp == nil: // paho also reports a reason code of 0x80 or more as an error
			t.Fatalf("publish %s: %v", tp, err)
		}
		return resp.ReasonCode
	}
	a, b, honest := anon("anon-a"), anon("anon-b"), anon("anon-c")
	steps := []struct {
		name    string
		cl      *paho5.Client
		topic   string
		payload []byte
		want    byte
	}{
		{"first", a, "ops/a", []byte("1"), 0x00},
		{"second", a, "ops/b", []byte("2"), 0x00},
		{"third", a, "ops/c", []byte("3"), 0x00},
		{"fourth: over the count", a, "ops/d", []byte("4"), 0x97},
		{"replacing its own", a, "ops/a", []byte("1 again"), 0x00},
		{"over its bytes", a, "ops/a", bytes.Repeat([]byte("x"), 1000), 0x97},
		{"clearing is always allowed", a, "ops/b", nil, 0x00},
		{"a place again after the clear", a, "ops/d", []byte("4"), 0x00},
		{"another client within its quota", b, "ops/big", bytes.Repeat([]byte("y"), 900), 0x00},
		{"over the total", honest, "ops/big2", bytes.Repeat([]byte("z"), 900), 0x97},
		{"small enough for the total", honest, "ops/small", []byte("s"), 0x00},
	}
	for _, s := range steps {
		if got := retain(s.cl, s.topic, 1, s.payload); got != s.want {
			t.Fatalf("%s: reason %#x, want %#x", s.name, got, s.want)
		}
	}
	refused := counter(t, c, "signet_retained_refused_total")
	retain(a, "ops/e", 0, []byte("5")) // QoS 0, over a's count: dropped
	waitFor(t, "the QoS 0 refusal counted", func() bool { return counter(t, c, "signet_retained_refused_total") == refused+1 })
	// A retained will counts too: over the total, it is published but not
	// retained.
	willWatch := make(chan string, 1)
	watcher, wack, err := dial5(t, c, &paho5.Connect{ClientID: "will-watch", CleanStart: true, KeepAlive: 30},
		func(p *paho5.Publish) { willWatch <- p.Topic })
	if err != nil || wack.ReasonCode != 0 {
		t.Fatalf("connect will-watch: %v %+v", err, wack)
	}
	if _, err := watcher.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "ops/w", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	dying := c.connect5(t, "will-1", "viewer-z1", testPassword, &paho5.WillMessage{Topic: "ops/w", Retain: true, Payload: bytes.Repeat([]byte("w"), 900)})
	dying.conn.Close()
	select {
	case tp := <-willWatch:
		if tp != "ops/w" {
			t.Fatalf("will watcher got %s", tp)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the will was not published")
	}
	if got := counter(t, c, "signet_retained_refused_total"); got != refused+2 {
		t.Fatalf("refusals %v, want %v (the will over the total)", got, refused+2)
	}

	// MQTT 3.1.1 has no reason codes: a plain PUBACK, the connection
	// stays, and the message is not stored.
	v3 := c.connectWith(t, "anon-v3", "", "", true)
	if tok := v3.Publish("ops/v3", 1, true, bytes.Repeat([]byte("v"), 900)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("3.1.1 publish over quota: %v", tok.Error())
	}
	publish(t, v3, "lobby/still-here", 1, []byte("hi"))
	if got := counter(t, c, "signet_retained_refused_total"); got != refused+3 {
		t.Fatalf("refusals %v, want %v (the 3.1.1 message over the total)", got, refused+3)
	}

	// What is stored: a new subscriber gets the retained messages filter by
	// filter, in the order of its SUBSCRIBE, so a message that was stored
	// would arrive before the last filter's.
	got := make(chan string, 16)
	sub, ack, err := dial5(t, c, &paho5.Connect{ClientID: "reader", CleanStart: true, KeepAlive: 30},
		func(p *paho5.Publish) { got <- p.Topic + "=" + string(p.Payload) })
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect reader: %v %+v", err, ack)
	}
	filters := []string{"ops/a", "ops/b", "ops/e", "ops/big2", "ops/w", "ops/v3", "ops/d"}
	var subs []paho5.SubscribeOptions
	for _, f := range filters {
		subs = append(subs, paho5.SubscribeOptions{Topic: f, QoS: 1})
	}
	if _, err := sub.Subscribe(ctx, &paho5.Subscribe{Subscriptions: subs}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ops/a=1 again", "ops/d=4"} {
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("retained %q, want %q (refused or cleared messages are not stored)", m, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("retained %q never arrived", want)
		}
	}
}
