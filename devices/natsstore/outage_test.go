package natsstore_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
)

func readyz(t *testing.T, srv *broker.Server) int {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestNATSOutage: while its NATS server is down, a broker says not ready
// on /readyz, goes on accepting a device's telemetry inside the lease it
// holds, and acknowledges no state change (that needs a durable write);
// when NATS is back it recovers by itself: ready again, the waiting state
// change acknowledged and in the twin, new messages accepted.
func TestNATSOutage(t *testing.T) {
	solo := natstest.NewSolo(t)
	url := solo.Server.ClientURL()
	dev := newDevice(t, "sl-1")
	ctx := context.Background()
	if err := devices.NewRegistry(openOn(t, url, 1), nil).Enroll(ctx, dev.record()); err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.Open(ctx, natsstore.Options{Servers: url, Replicas: 1, Outage: 2 * waitTimeout})
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
	if code := readyz(t, srv); code != http.StatusOK {
		t.Fatalf("/readyz before the outage: %d", code)
	}

	solo.Stop()
	waitUntil(t, "/readyz not ready while NATS is down", func() bool { return readyz(t, srv) == http.StatusServiceUnavailable })
	for i := range 10 {
		if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":2}`))); rc != 0 {
			t.Fatalf("telemetry %d inside the held lease during the outage: reason %#x", i, rc)
		}
	}
	stateAck := make(chan byte, 1)
	msg := dev.sign(t, state, []byte(`{"on":true,"level":55}`))
	go func() {
		resp, _ := cl.Publish(context.Background(), &paho5.Publish{Topic: state, QoS: 1, Payload: msg})
		if resp == nil {
			stateAck <- 0xff
			return
		}
		stateAck <- resp.ReasonCode
	}()
	// The state change has reached the twin in memory only once it is
	// staged; it must not be acknowledged before it is durable.
	waitUntil(t, "the state change staged", func() bool {
		doc, _ := srv.Edge().Twin("sl-1")
		return doc.Reported["level"] == 55.0
	})
	select {
	case rc := <-stateAck:
		t.Fatalf("state change acknowledged (%#x) while NATS was down", rc)
	default:
	}

	solo.Start(t)
	waitUntil(t, "/readyz ready again after NATS returned", func() bool { return readyz(t, srv) == http.StatusOK })
	select {
	case rc := <-stateAck:
		if rc != 0 {
			t.Fatalf("state change after NATS returned: reason %#x", rc)
		}
	case <-time.After(2 * waitTimeout):
		t.Fatal("the state change was never acknowledged after NATS returned")
	}
	if rc := publish(t, cl, tele, dev.sign(t, tele, []byte(`{"w":3}`))); rc != 0 {
		t.Fatalf("telemetry after the outage: reason %#x", rc)
	}
	snap, err := openOn(t, url, 1).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Twins) != 1 || !strings.Contains(string(snap.Twins[0].Doc), `"level":55`) {
		t.Fatalf("stored twin after the outage: %s, want the state change", snap.Twins)
	}
}
