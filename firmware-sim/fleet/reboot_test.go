package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
)

// TestRebootedDeviceNeverRepeatsACounter boots a streetlight 50 times
// against a real Signet broker; each life connects (a signed token), sends
// one signed message and dies without a clean shutdown. Only the counter file
// survives. The broker must accept everything: any reused counter would be
// refused as a replay.
func TestRebootedDeviceNeverRepeatsACounter(t *testing.T) {
	dir := t.TempDir()
	stats := &runtime.Stats{}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{{ID: "sl-1", Zone: "z1", Kind: "streetlight"}}, dir, "", stats)
		return err
	})
	srv := brokertest.Start(t, store)
	proto := devs[0]
	const boots = 50
	for boot := range boots {
		// A fresh boot: same key, counter store reopened from its file.
		ctr, err := reopen(dir)
		if err != nil {
			t.Fatal(err)
		}
		d := &runtime.Device{ID: proto.ID, Zone: proto.Zone, Key: proto.Key, KID: proto.KID, Model: proto.Model, Counter: ctr, Stats: stats}
		d.Broker = "tcp://" + srv.MQTTAddr()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cl, err := d.Connect(ctx)
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
		if err := d.Publish(ctx, cl, model.Publication{Class: "state", Payload: []byte(`{"on":true}`), QoS: 1}); err != nil {
			t.Fatalf("boot %d: publish: %v", boot, err)
		}
		runtime.Disconnect(cl) // the device dies
		cancel()
	}
	doc, _ := srv.Edge().Twin("sl-1")
	if doc.Security.Accepted != 2*boots || len(doc.Security.Rejected) != 0 {
		t.Fatalf("after %d boots: accepted %d, rejected %v; want %d accepted and no rejection", boots, doc.Security.Accepted, doc.Security.Rejected, 2*boots)
	}
}
