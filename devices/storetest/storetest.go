// Package storetest is for tests only: the contract every devices.Store
// implementation must keep (compare-and-set registry writes, unique kids,
// bounds that never go down, lease extensions by compare-and-set on the
// stored bound, durability across a reopen), written once and run by each
// implementation's tests on its own store.
package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// Opener makes a new, empty store for one test, and a reopen that closes
// the store and opens the same one again (for what must survive a restart).
type Opener func(t *testing.T) (s devices.Store, reopen func(t *testing.T) devices.Store)

// Run runs the whole contract against stores made by open.
func Run(t *testing.T, open Opener) {
	t.Run("WriteCompareAndSet", func(t *testing.T) { writeCompareAndSet(t, open) })
	t.Run("CommitAndLoad", func(t *testing.T) { commitAndLoad(t, open) })
	t.Run("ExtendLeasesCompareAndSet", func(t *testing.T) { extendLeasesCompareAndSet(t, open) })
}

// NewKey returns a fresh active Ed25519 key record.
func NewKey(t testing.TB) devices.Key {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	return devices.Key{KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}
}

// writeCompareAndSet: a record is written only at its stored revision (0:
// only if absent); a kid is held by one record at most; a failed batch
// writes nothing; replacing a record's keys releases its old kids.
func writeCompareAndSet(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	k1, k2, k3 := NewKey(t), NewKey(t), NewKey(t)
	d := devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}}
	if err := s.Write(ctx, devices.Batch{Devices: []devices.Device{d}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Device(ctx, "sl-1")
	if err != nil || got.Revision != 1 {
		t.Fatalf("Device = rev %d, %v; want rev 1", got.Revision, err)
	}
	steps := []struct {
		name    string
		batch   devices.Batch
		wantErr error
		wantDup bool
	}{
		{"create again", devices.Batch{Devices: []devices.Device{d}}, devices.ErrConflict, false},
		{"stale revision", devices.Batch{Devices: []devices.Device{{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}, Revision: 7}}}, devices.ErrConflict, false},
		{"kid of another device", devices.Batch{Devices: []devices.Device{{ID: "sl-2", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}}}}, nil, true},
		{"kid twice in one batch", devices.Batch{
			Devices:   []devices.Device{{ID: "sl-3", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k2}}},
			Operators: []devices.Operator{{ID: "op-1", Keys: []devices.Key{k2}}},
		}, nil, true},
	}
	for _, st := range steps {
		err := s.Write(ctx, st.batch)
		var dup *devices.DuplicateKIDError
		switch {
		case st.wantDup && !errors.As(err, &dup):
			t.Errorf("%s: err = %v, want *DuplicateKIDError", st.name, err)
		case st.wantErr != nil && !errors.Is(err, st.wantErr):
			t.Errorf("%s: err = %v, want %v", st.name, err, st.wantErr)
		}
	}
	if _, err := s.Device(ctx, "sl-3"); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("sl-3 after failed batch: err = %v, want ErrNotFound", err)
	}
	if _, err := s.KeyOwner(ctx, k2.KID); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("kid of failed batch indexed: err = %v", err)
	}
	got.Keys = []devices.Key{k3}
	if err := s.Write(ctx, devices.Batch{Devices: []devices.Device{got}}); err != nil {
		t.Fatal(err)
	}
	if o, err := s.KeyOwner(ctx, k3.KID); err != nil || o != (devices.Owner{Role: devices.RoleDevice, ID: "sl-1"}) {
		t.Errorf("KeyOwner(k3) = %v, %v", o, err)
	}
	if _, err := s.KeyOwner(ctx, k1.KID); !errors.Is(err, devices.ErrNotFound) {
		t.Errorf("KeyOwner(k1) after replacement: err = %v, want ErrNotFound", err)
	}
	if err := s.Write(ctx, devices.Batch{Operators: []devices.Operator{{ID: "op-1", Keys: []devices.Key{k1}}}}); err != nil {
		t.Errorf("released kid not reusable: %v", err)
	}
}

// commitAndLoad: of two changes to one key or twin in a commit the later
// stays; a change lowering a bound (as an import would ask) fails the
// commit and leaves the rest of it unwritten; everything survives a reopen.
func commitAndLoad(t *testing.T, open Opener) {
	ctx := context.Background()
	s, reopen := open(t)
	kid := []byte{1, 2, 3}
	changes := []devices.Change{
		{KID: kid, HighWater: 5, Window: []byte("w5"), Device: "d1", Twin: []byte(`{"version":1}`)},
		{KID: kid, HighWater: 9, Window: []byte("w9"), Device: "d1", Twin: []byte(`{"version":2}`)},
		{Device: "d2", Twin: []byte(`{"version":7}`)},
	}
	if err := s.Commit(ctx, changes); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(ctx, []devices.Change{{Device: "d2", Twin: []byte(`{"version":8}`)}, {KID: kid, HighWater: 8}})
	if !errors.Is(err, devices.ErrConflict) {
		t.Fatalf("lowering the bound: err = %v, want ErrConflict", err)
	}
	s = reopen(t)
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Windows) != 1 || snap.Windows[0].HighWater != 9 || string(snap.Windows[0].State) != "w9" {
		t.Errorf("windows = %+v, want one at 9 with state w9", snap.Windows)
	}
	want := map[string]string{"d1": `{"version":2}`, "d2": `{"version":7}`} // the failed commit left d2 alone
	if len(snap.Twins) != 2 {
		t.Fatalf("twins = %+v", snap.Twins)
	}
	for _, tw := range snap.Twins {
		if want[tw.Device] != string(tw.Doc) {
			t.Errorf("twin %s = %s, want %s", tw.Device, tw.Doc, want[tw.Device])
		}
	}
}

// extendLeasesCompareAndSet: an extension is written only from the bound
// stored now (0: none); a stale one is that extension's conflict, naming
// the bound found, and leaves the others of the call written; a lease drops
// a window saved beside the bound; an extension that does not grow is an
// error; and it all survives a reopen.
func extendLeasesCompareAndSet(t *testing.T, open Opener) {
	ctx := context.Background()
	s, reopen := open(t)
	a, b := []byte("key-a"), []byte("key-b")
	res, err := s.ExtendLeases(ctx, []devices.LeaseExtension{{KID: a, From: 0, To: 100}, {KID: b, From: 0, To: 50}}, nil)
	if err != nil || res[0] != nil || res[1] != nil {
		t.Fatalf("first leases: %v %v", res, err)
	}
	save := []devices.Change{{KID: b, HighWater: 50, Window: []byte("window")}, {Device: "d1", Twin: []byte(`{"version":1}`)}}
	res, err = s.ExtendLeases(ctx, []devices.LeaseExtension{{KID: a, From: 0, To: 200}, {KID: b, From: 50, To: 80}}, save)
	if err != nil {
		t.Fatal(err)
	}
	var conflict *devices.LeaseConflictError
	if !errors.Is(res[0], devices.ErrConflict) || !errors.As(res[0], &conflict) || conflict.Stored != 100 || conflict.From != 0 {
		t.Errorf("stale extension of a: %v, want a conflict naming the stored bound 100", res[0])
	}
	if res[1] != nil {
		t.Errorf("extension of b beside a's conflict: %v", res[1])
	}
	if _, err := s.ExtendLeases(ctx, []devices.LeaseExtension{{KID: a, From: 100, To: 100}}, nil); err == nil {
		t.Error("an extension that does not grow was accepted")
	}
	s = reopen(t)
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]devices.Window{}
	for _, w := range snap.Windows {
		got[string(w.KID)] = w
	}
	if w := got["key-a"]; w.HighWater != 100 || len(w.State) != 0 {
		t.Errorf("a after reopen: %+v, want bound 100 alone", w)
	}
	if w := got["key-b"]; w.HighWater != 80 || len(w.State) != 0 {
		t.Errorf("b after reopen: %+v, want bound 80 alone (the saved window dropped)", w)
	}
	if len(snap.Twins) != 1 || string(snap.Twins[0].Doc) != `{"version":1}` {
		t.Errorf("twins after reopen: %+v, want the one written with the leases", snap.Twins)
	}
}
