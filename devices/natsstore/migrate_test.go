package natsstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
	"github.com/signet-city/signet/devices/storetest"
)

// TestMigrateFromBolt: a bbolt store's registry, counter bounds (a bare
// one and a window saved at a clean stop) and twins arrive in JetStream as
// they were; a second migration into the same cluster is refused and
// changes nothing.
func TestMigrateFromBolt(t *testing.T) {
	ctx := context.Background()
	bs, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	reg := devices.NewRegistry(bs, nil)
	k1, k2 := storetest.NewKey(t), storetest.NewKey(t)
	if err := reg.Enroll(ctx, devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.EnrollOperator(ctx, devices.Operator{ID: "op-1", Keys: []devices.Key{k2}, Scope: devices.Scope{Zones: []string{"z1"}, Kinds: []string{"*"}, Commands: []string{"dim"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.ExtendLeases(ctx, []devices.LeaseExtension{{KID: k1.KID, From: 0, To: 3000}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := bs.Commit(ctx, []devices.Change{{KID: k2.KID, HighWater: 70, Window: []byte("saved")}, {Device: "sl-1", Twin: []byte(`{"zone":"z1","version":3}`)}}); err != nil {
		t.Fatal(err)
	}
	want, err := bs.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}

	s := openOn(t, natstest.Server(t).ClientURL(), 1)
	if _, err := natsstore.Migrate(ctx, bs, s); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []struct{ name, got, want string }{
		{"devices", fmt.Sprint(got.Devices), fmt.Sprint(want.Devices)},
		{"operators", fmt.Sprint(got.Operators), fmt.Sprint(want.Operators)},
		{"windows", fmt.Sprint(got.Windows), fmt.Sprint(want.Windows)},
		{"twins", fmt.Sprint(got.Twins), fmt.Sprint(want.Twins)},
	} {
		if part.got != part.want {
			t.Errorf("%s after migration:\n got %s\nwant %s", part.name, part.got, part.want)
		}
	}
	if o, err := s.KeyOwner(ctx, k2.KID); err != nil || o.ID != "op-1" {
		t.Errorf("KeyOwner of the operator's kid after migration: %v, %v", o, err)
	}
	if _, err := natsstore.Migrate(ctx, bs, s); err == nil || !strings.Contains(err.Error(), "already holds a registry") {
		t.Fatalf("second migration: err = %v, want a refusal naming the registry already there", err)
	}
}
