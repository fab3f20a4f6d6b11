package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

type captured struct {
	topic string
	msg   []byte
}

// TestDeviceAfterBrokerCrash: a streetlight talks to a real broker, which
// then crashes (its store file copied as it stands, every acknowledged
// write fsynced) and restarts from that file. The device reconnects, skips
// 2·B ahead and is accepted at once, its connect token included; every
// message it sent before the crash, replayed on its own connection, is
// refused; and it keeps being accepted in between and after.
func TestDeviceAfterBrokerCrash(t *testing.T) {
	dir := t.TempDir()
	stats := &runtime.Stats{}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{{ID: "sl-1", Zone: "z1", Kind: "streetlight"}}, dir, "", stats)
		return err
	})
	d := devs[0]
	var sent []captured
	d.Tap = func(topic string, msg []byte) { sent = append(sent, captured{topic, msg}) }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	first := brokertest.Start(t, store)
	d.Broker = "tcp://" + first.MQTTAddr()
	cl, err := d.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tele := model.Publication{Class: "tele", Name: "power", Payload: []byte(`{"w":12}`), QoS: 1}
	state := model.Publication{Class: "state", Payload: []byte(`{"on":true}`), QoS: 1}
	for i := range 20 {
		p := tele
		if i%5 == 0 {
			p = state
		}
		if err := d.Publish(ctx, cl, p); err != nil {
			t.Fatal(err)
		}
	}
	if doc, _ := first.Edge().Twin("sl-1"); doc.Security.Accepted != 21 || len(doc.Security.Rejected) != 0 {
		t.Fatalf("before the crash: accepted %d, rejected %v; want 21 (token and 20) and none", doc.Security.Accepted, doc.Security.Rejected)
	}

	// The crash: what is on disk now is all a restart gets.
	data, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	runtime.Disconnect(cl)
	first.Shutdown(ctx)

	second := brokertest.Start(t, crashed)
	d.Broker = "tcp://" + second.MQTTAddr()
	before, _ := second.Edge().Twin("sl-1")
	cl, err = d.Connect(ctx) // skips 2·B; its token must be accepted at once
	if err != nil {
		t.Fatalf("honest device reconnecting after the crash: %v", err)
	}
	defer runtime.Disconnect(cl)
	if err := d.Publish(ctx, cl, tele); err != nil {
		t.Fatal(err)
	}
	for _, m := range sent[:len(sent)-1] { // everything from before the crash
		tok := cl.Publish(m.topic, 1, false, m.msg)
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("replaying %s: %v", m.topic, tok.Error())
		}
	}
	if err := d.Publish(ctx, cl, state); err != nil {
		t.Fatal(err)
	}
	after, _ := second.Edge().Twin("sl-1")
	replays := after.Security.Rejected[string(signing.ReasonReplay)] - before.Security.Rejected[string(signing.ReasonReplay)]
	if accepted := after.Security.Accepted - before.Security.Accepted; accepted != 3 || replays != 20 {
		t.Fatalf("after the restart: %d accepted, %d refused as replays; want 3 (token, telemetry, state) and all 20 replays refused", accepted, replays)
	}
}
