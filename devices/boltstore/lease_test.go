package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/signet-city/signet/devices"
)

// TestExtendLeasesCompareAndSet: an extension is written only from the
// bound stored now (0: none); a stale one is that extension's conflict,
// naming the bound found, and leaves the others of the call written; a
// lease drops a window saved beside the bound; and it survives a reopen.
func TestExtendLeasesCompareAndSet(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	a, b := []byte("key-a"), []byte("key-b")
	res, err := s.ExtendLeases(ctx, []devices.LeaseExtension{{KID: a, From: 0, To: 100}, {KID: b, From: 0, To: 50}}, nil)
	if err != nil || res[0] != nil || res[1] != nil {
		t.Fatalf("first leases: %v %v", res, err)
	}
	// b's window saved beside its bound at a clean stop, and a lease over
	// it in the same transaction, with a twin.
	save := []devices.Change{{KID: b, HighWater: 50, Window: []byte("window")}, {Device: "d1", Twin: []byte(`{"v":1}`)}}
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
	s.Close()
	s = open(t, path)
	defer s.Close()
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
	if len(snap.Twins) != 1 || string(snap.Twins[0].Doc) != `{"v":1}` {
		t.Errorf("twins after reopen: %+v, want the one written with the leases", snap.Twins)
	}
}
