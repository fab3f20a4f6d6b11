package attack_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/runtime"
)

// TestEveryProbeIsRefused runs every probe of "signet attack --probe all"
// against a real broker (MQTT and HTTP, anonymous access on as --dev has
// it, a short connect deadline so the slow-connect probe ends soon) with a
// compromised traffic signal and a streetlight of its zone: each must be
// refused, and afterwards the streetlight, an honest device, still
// publishes a state the broker accepts.
func TestEveryProbeIsRefused(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP, cfg.AllowAnonymous = "127.0.0.1:0", true
		cfg.Connections.ConnectTimeout = time.Second
	})
	devs := []*runtime.Device{c.signal, c.light}
	srv := c.srv
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	target := attack.Target{MQTT: devs[0].Broker, HTTP: "http://" + srv.HTTPAddr(), Device: devs[0], Other: devs[1], Patience: 20 * time.Second}
	for _, p := range attack.Probes() {
		o, err := p.Run(ctx, target)
		if err != nil {
			t.Fatalf("%s did not run: %v", p.Name, err)
		}
		if !o.Refused || o.Sent == 0 {
			t.Errorf("%s: %+v; want it refused", p.Name, o)
		}
	}
	conn, err := attack.Dial(ctx, devs[1].Broker, devs[1], devs[1].ID)
	if err != nil {
		t.Fatalf("the honest streetlight cannot log in after the probes: %v", err)
	}
	defer conn.Close()
	tp := "city/z1/sl-1/state"
	msg, err := devs[1].Sign(tp, []byte(`{"level":40}`))
	if err != nil {
		t.Fatal(err)
	}
	if code, err := conn.Publish(ctx, tp, msg); err != nil || attack.Refused(code) {
		t.Fatalf("the honest streetlight's state after the probes: %s, %v", attack.CodeName(code), err)
	}
}
