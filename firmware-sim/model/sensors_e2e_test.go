package model_test

import (
	"context"
	"encoding/json"
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

// TestSensorsThroughARealBroker runs a loop detector, a streetlight and an
// air-quality sensor against a real broker on loopback over real MQTT
// clients: their honest states and readings are all accepted; a reading
// signed by each device's own key that breaks its kind's rules (an
// occupancy no traffic makes, 2000 W from a 100 W lamp, PM2.5 above the PM10
// that includes it) is refused with invalid_state while the honest device keeps being
// accepted; and a loop that reports itself open puts the twin in fault and
// raises a fault security event, without a refusal.
func TestSensorsThroughARealBroker(t *testing.T) {
	dir := t.TempDir()
	stats := &runtime.Stats{}
	var devs []*runtime.Device
	specs := []fleet.Spec{{ID: "ld-1", Zone: "z1", Kind: "loop-detector"}, {ID: "sl-1", Zone: "z1", Kind: "streetlight"}, {ID: "aq-1", Zone: "z1", Kind: "air-quality"}}
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		devs, err = fleet.Build(ctx, reg, specs, dir, "", stats)
		return err
	})
	srv := brokertest.Start(t, store)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lies := map[string]model.Publication{
		"ld-1": {Class: topic.Tele, Name: kinds.TrafficStream, Payload: []byte(`{"interval_s":1,"lanes":{"1":{"count":1,"occupancy":1,"speed_kmh":50}}}`)},
		"sl-1": {Class: topic.Tele, Name: kinds.PowerStream, Payload: []byte(`{"power_w":2000}`)},
		"aq-1": {Class: topic.Tele, Name: kinds.AirStream, Payload: []byte(`{"pm25":30,"pm10":20,"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`)},
	}
	clock := time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC) // rush hour, lamps lit
	for i, d := range devs {
		d.Broker = "tcp://" + srv.MQTTAddr()
		cl, err := d.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer runtime.Disconnect(cl)
		m, err := model.New(specs[i].Kind, nil, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		// Every message at QoS 1, so each Publish returns after the
		// broker's verdict and the twin's counters can be read at once.
		run := func(steps int) {
			t.Helper()
			for s := range steps {
				for _, p := range m.Step(clock.Add(time.Duration(s) * time.Second)) {
					p.QoS = 1
					if err := d.Publish(ctx, cl, p); err != nil {
						t.Fatal(err)
					}
				}
			}
			clock = clock.Add(time.Duration(steps) * time.Second)
		}
		rejected := func() map[string]uint64 {
			doc, _ := srv.Edge().Twin(d.ID)
			return doc.Security.Rejected
		}
		run(60)
		if r := rejected(); len(r) != 0 {
			t.Fatalf("%s honest: rejected %v", d.ID, r)
		}
		lie := lies[d.ID]
		lie.QoS = 1
		if err := d.Publish(ctx, cl, lie); err != nil {
			t.Fatal(err)
		}
		if r := rejected(); r[string(signing.ReasonInvalidState)] != 1 || len(r) != 1 {
			t.Fatalf("%s lie %s: rejected %v, want one invalid_state", d.ID, lie.Payload, r)
		}
		if ld, ok := m.(*model.LoopDetector); ok {
			ld.SetHealth("2", kinds.HealthOpenLoop)
		}
		run(30)
		if r := rejected(); r[string(signing.ReasonInvalidState)] != 1 || len(r) != 1 {
			t.Fatalf("%s honest after the lie: rejected %v", d.ID, r)
		}
	}
	doc, _ := srv.Edge().Twin("ld-1")
	if f, _ := doc.Reported[kinds.FaultField].(map[string]any); f["reason"] != kinds.HealthOpenLoop {
		t.Fatalf("loop detector twin after an open loop: %v", doc.Reported)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := false
		for _, ev := range srv.Events().Recent(0) {
			found = found || (ev.Kind == broker.FaultEvent && ev.Device == "ld-1" && ev.Reason == kinds.HealthOpenLoop)
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
