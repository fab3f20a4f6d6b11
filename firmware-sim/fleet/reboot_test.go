package fleet_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
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
	storePath := filepath.Join(dir, "s.db")
	store, err := boltstore.Open(storePath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stats := &runtime.Stats{}
	devs, err := fleet.Build(context.Background(), devices.NewRegistry(store, nil), []fleet.Spec{{ID: "sl-1", Zone: "z1", Kind: "streetlight"}}, dir, "", stats)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP = storePath, "127.0.0.1:0", ""
	srv, err := broker.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	proto := devs[0]
	const boots = 50
	for boot := range boots {
		// A fresh boot: same key, counter store reopened from its file.
		d := &runtime.Device{ID: proto.ID, Zone: proto.Zone, Key: proto.Key, KID: proto.KID, Model: proto.Model, Stats: stats}
		if d.Counter, err = reopen(dir); err != nil {
			t.Fatal(err)
		}
		d.Broker = "tcp://" + srv.MQTTAddr()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cl, err := d.Connect(ctx)
		if err != nil {
			t.Fatalf("boot %d: %v", boot, err)
		}
		if err := d.Publish(ctx, cl, model.Publication{Class: "state", Payload: []byte(`{"on":true}`), QoS: 1}); err != nil {
			t.Fatalf("boot %d: publish: %v", boot, err)
		}
		cl.Disconnect(0) // the device dies
		cancel()
	}
	doc, _ := srv.Edge().Twin("sl-1")
	if doc.Security.Accepted != 2*boots || len(doc.Security.Rejected) != 0 {
		t.Fatalf("after %d boots: accepted %d, rejected %v; want %d accepted and no rejection", boots, doc.Security.Accepted, doc.Security.Rejected, 2*boots)
	}
}
