package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
	bolt "go.etcd.io/bbolt"
)

func newKey(t *testing.T) devices.Key {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	return devices.Key{KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}
}

func open(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other-app")); return err })
	db.Close()
	future := filepath.Join(dir, "future.db")
	open(t, future).Close()
	db, err = bolt.Open(future, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("99")) })
	db.Close()
	locked := filepath.Join(dir, "locked.db")
	open(t, locked) // held open for the rest of the test

	tests := []struct {
		name string
		path string
		opt  boltstore.Options
		want string
	}{
		{"missing read-only", filepath.Join(dir, "missing.db"), boltstore.Options{ReadOnly: true}, "missing.db: no such file"},
		{"missing directory", filepath.Join(dir, "no", "such.db"), boltstore.Options{}, "such.db: no such file or directory"},
		{"garbage", garbage, boltstore.Options{}, "garbage.db: corrupt or not a signet store"},
		{"garbage read-only", garbage, boltstore.Options{ReadOnly: true}, "garbage.db: corrupt or not a signet store"},
		{"another application's bbolt file", foreign, boltstore.Options{}, "foreign.db: not a signet store"},
		{"newer schema", future, boltstore.Options{}, `future.db: schema version "99"`},
		{"locked by another opener", locked, boltstore.Options{LockTimeout: 50 * time.Millisecond}, "locked.db: locked by another process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := boltstore.Open(tt.path, tt.opt)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestOpenReadOnlyOfNewStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	open(t, path).Close()
	s, err := boltstore.Open(path, boltstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap, err := s.Load(context.Background())
	if err != nil || len(snap.Devices) != 0 {
		t.Fatalf("Load of new store = %+v, %v; want empty", snap, err)
	}
	if err := s.Commit(context.Background(), []devices.Change{{Device: "x", Twin: []byte("{}")}}); err == nil {
		t.Fatal("Commit on a read-only store succeeded")
	}
}

func TestCommitAndLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := open(t, path)
	kid := []byte{1, 2, 3}
	changes := []devices.Change{
		{KID: kid, HighWater: 5, Window: []byte("w5"), Device: "d1", Twin: []byte(`{"v":1}`)},
		{KID: kid, HighWater: 9, Window: []byte("w9"), Device: "d1", Twin: []byte(`{"v":2}`)},
		{Device: "d2", Twin: []byte(`{"v":7}`)},
	}
	if err := s.Commit(ctx, changes); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(ctx, []devices.Change{{Device: "d2", Twin: []byte(`{"v":8}`)}, {KID: kid, HighWater: 8, Window: []byte("w8")}})
	if !errors.Is(err, devices.ErrConflict) {
		t.Fatalf("lowering the high-water mark: err = %v, want ErrConflict", err)
	}
	s.Close()

	s = open(t, path)
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Windows) != 1 || snap.Windows[0].HighWater != 9 || string(snap.Windows[0].State) != "w9" {
		t.Errorf("windows = %+v, want one at 9 with state w9", snap.Windows)
	}
	want := map[string]string{"d1": `{"v":2}`, "d2": `{"v":7}`} // the failed commit left d2 alone
	if len(snap.Twins) != 2 {
		t.Fatalf("twins = %+v", snap.Twins)
	}
	for _, tw := range snap.Twins {
		if want[tw.Device] != string(tw.Doc) {
			t.Errorf("twin %s = %s, want %s", tw.Device, tw.Doc, want[tw.Device])
		}
	}
}
