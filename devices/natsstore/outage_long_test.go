package natsstore_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
)

// TestNATSOutageLongerThanBudget: NATS stays down for longer than
// nats.outage. The broker says not ready, refuses what needs a write (a
// state change, a counter beyond the lease it holds) and goes on accepting
// telemetry inside that lease; it does not stop. When NATS returns it
// recovers by itself, with no restart: ready again, state changes and
// counters beyond the old lease accepted.
func TestNATSOutageLongerThanBudget(t *testing.T) {
	solo := natstest.NewSolo(t)
	url := solo.Server.ClientURL()
	dev := newDevice(t, "sl-1")
	ctx := context.Background()
	if err := devices.NewRegistry(openOn(t, url, 1), nil).Enroll(ctx, dev.record()); err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.Open(ctx, natsstore.Options{Servers: url, Replicas: 1, Outage: 200 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP, cfg.LeaseBlock = url, "127.0.0.1:0", "127.0.0.1:0", leaseBlock
	srv, err := broker.NewWithStore(ctx, cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	cl := dev.connect(t, srv)
	const tele, state = "city/z1/sl-1/tele/power", "city/z1/sl-1/state"
	if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":1}`))); rc != 0 {
		t.Fatalf("telemetry before the outage: reason %#x", rc)
	}

	solo.Stop()
	waitUntil(t, "/readyz not ready while NATS is down", func() bool { return readyz(t, srv) == http.StatusServiceUnavailable })
	for i := range 3 {
		if rc := publish(t, cl, state, dev.sign(t, state, []byte(`{"on":true,"level":7}`))); rc == 0 {
			t.Fatalf("state change %d acknowledged while NATS was down past the outage budget", i)
		}
		if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":2}`))); rc != 0 {
			t.Fatalf("telemetry inside the held lease, after refusal %d: reason %#x", i, rc)
		}
	}
	dev.ctr.Add(4 * leaseBlock) // beyond any lease the broker holds
	if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":3}`))); rc == 0 {
		t.Fatal("a counter beyond the held lease accepted while NATS was down")
	}
	if code := readyz(t, srv); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", code)
	}

	solo.Start(t)
	waitUntil(t, "/readyz ready again after NATS returned", func() bool { return readyz(t, srv) == http.StatusOK })
	// A lease extension asked for while NATS was down may land when it
	// returns, unanswered: the broker then refuses every counter up to its
	// bound, and the device's skip on reconnect (as firmware does after
	// refusals) starts above it.
	disconnect(cl)
	cl = dev.connect(t, srv)
	if rc := publish(t, cl, state, dev.sign(t, state, []byte(`{"on":true,"level":9}`))); rc != 0 {
		t.Fatalf("state change after NATS returned: reason %#x", rc)
	}
	dev.ctr.Add(4 * leaseBlock)
	if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":4}`))); rc != 0 {
		t.Fatalf("a counter beyond the old lease after NATS returned: reason %#x", rc)
	}
	snap, err := openOn(t, url, 1).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Twins) != 1 || !containsLevel(snap.Twins[0].Doc, 9) {
		t.Fatalf("stored twin after the outage: %s, want level 9", snap.Twins)
	}
}

func containsLevel(doc []byte, level int) bool {
	var tw struct {
		Reported map[string]any `json:"reported"`
	}
	return json.Unmarshal(doc, &tw) == nil && tw.Reported["level"] == float64(level)
}
