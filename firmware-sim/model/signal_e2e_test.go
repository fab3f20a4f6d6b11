package model_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// TestSignalControllerThroughARealBroker runs the NEMA controller against a
// real broker on loopback over a real MQTT client, on a simulated clock an
// hour behind the wall clock (so every since is in the past): its start-up,
// cycles and SPaT are all accepted; a reboot mid-cycle is accepted at once
// (no invalid_state); a SPaT signed by the device's own key that says green
// for a red head is refused while the honest controller keeps being
// accepted; and a malfunction (a conflicting green) is accepted as reported,
// puts the twin in fault, raises a fault security event and puts the
// controller in flash.
func TestSignalControllerThroughARealBroker(t *testing.T) {
	dir := t.TempDir()
	stats := &runtime.Stats{}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{{ID: "tl-1", Zone: "z1", Kind: "traffic-signal", Params: model.NEMAPlan}}, dir, "", stats)
		return err
	})
	srv := brokertest.Start(t, store)
	d := devs[0]
	d.Broker = "tcp://" + srv.MQTTAddr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.Disconnect(cl)

	clock := time.Now().Add(-time.Hour)
	run := func(c *model.Controller, seconds int) {
		t.Helper()
		for range seconds {
			clock = clock.Add(time.Second)
			for _, p := range c.Step(clock) {
				if err := d.Publish(ctx, cl, p); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	twinOf := func() (map[string]any, map[string]uint64) {
		doc, _ := srv.Edge().Twin("tl-1")
		return doc.Reported, doc.Security.Rejected
	}
	newController := func() *model.Controller {
		m, err := model.New("traffic-signal", model.NEMAPlan, 1)
		if err != nil {
			t.Fatal(err)
		}
		return m.(*model.Controller)
	}

	c := newController()
	run(c, 150) // start-up and more than one cycle
	rep, rejected := twinOf()
	if len(rejected) != 0 || rep["mode"] != kinds.ModeNormal {
		t.Fatalf("honest controller: rejected %v, mode %v", rejected, rep["mode"])
	}

	// A reboot mid-cycle: a new controller, a later boot.
	c = newController()
	run(c, 30)
	rep, rejected = twinOf()
	if len(rejected) != 0 || rep["boot"] != float64(c.Boot().UnixMilli()) {
		t.Fatalf("after a reboot: rejected %v, boot %v, want %d", rejected, rep["boot"], c.Boot().UnixMilli())
	}

	// A SPaT that tells a red head's approach to go, signed by the device.
	var red string
	for id, g := range rep["groups"].(map[string]any) {
		if g.(map[string]any)["state"] == kinds.Red {
			red = id
		}
	}
	lie := fmt.Appendf(nil, `{"boot":%v,"groups":{%q:{"event":%q}}}`, rep["boot"], red, kinds.EventProtectedGo)
	if err := d.Publish(ctx, cl, model.Publication{Class: topic.Tele, Name: "spat", Payload: lie, QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if _, rejected = twinOf(); rejected[string(signing.ReasonInvalidState)] != 1 {
		t.Fatalf("a SPaT of green for red group %s: rejected %v, want one invalid_state", red, rejected)
	}
	run(c, 20)
	if _, after := twinOf(); after[string(signing.ReasonInvalidState)] != 1 || len(after) != 1 {
		t.Fatalf("the honest controller after the lie: rejected %v", after)
	}

	// A malfunction: a conflicting green at the next green start.
	c.Malfunction(model.MalfunctionConflict)
	for i := 0; c.Fault() == nil; i++ {
		if i > 120 {
			t.Fatal("the malfunction never showed")
		}
		run(c, 1)
	}
	run(c, 5)
	rep, rejected = twinOf()
	fault, _ := rep[kinds.FaultField].(map[string]any)
	if fault["reason"] != kinds.FaultConflict || rep["mode"] != kinds.ModeFlash || len(rejected) != 1 {
		t.Fatalf("after the malfunction: fault %v, mode %v, rejected %v; want a conflict fault, flash, nothing more refused", fault, rep["mode"], rejected)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := false
		for _, ev := range srv.Events().Recent(0) {
			if ev.Kind == broker.FaultEvent && ev.Device == "tl-1" && ev.Reason == kinds.FaultConflict {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(srv.Events().Recent(0))
			t.Fatalf("no fault event; events: %s", b)
		}
		time.Sleep(10 * time.Millisecond) // polling the event ring, not synchronising on time
	}
}
