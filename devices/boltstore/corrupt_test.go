package boltstore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
)

// corruptRootPage overwrites the page holding the root of the newest
// meta's bucket tree with garbage: every transaction then walks into it.
// The meta layout is bbolt's (preflight.go): page header 16 bytes, then
// magic, version, page size, flags (4 each), the root bucket's page id,
// and the txid at offset 48 of the meta.
func corruptRootPage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ne := binary.NativeEndian
	meta := func(off int64) (pageSize, root, txid uint64) {
		b := make([]byte, 16+64)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		m := b[16:]
		return uint64(ne.Uint32(m[8:])), ne.Uint64(m[16:]), ne.Uint64(m[48:])
	}
	ps, root, txid := meta(0)
	if _, root1, txid1 := meta(int64(ps)); txid1 > txid {
		root = root1
	}
	if root < 2 {
		t.Fatalf("root page %d: not a data page", root)
	}
	garbage := []byte(strings.Repeat("\xab", int(ps)))
	if _, err := f.WriteAt(garbage, int64(root*ps)); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptPageIsOneError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signet.db")
	s := open(t, path)
	ctx := context.Background()
	if err := s.Write(ctx, devices.Batch{Devices: []devices.Device{{ID: "sig-1", Zone: "z1", Keys: []devices.Key{newKey(t)}}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A store already open when its page goes bad (a disk error under a
	// running broker): the next read is the same error, not a panic.
	live, err := boltstore.Open(path, boltstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	corruptRootPage(t, path)
	if _, err := live.Load(ctx); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Load of an open store = %v, want ErrCorrupt", err)
	}
	if _, err := live.Device(ctx, "sig-1"); !errors.Is(err, boltstore.ErrCorrupt) {
		t.Fatalf("Device = %v, want ErrCorrupt", err)
	}
	live.Close()

	for _, ro := range []bool{false, true} {
		_, err := boltstore.Open(path, boltstore.Options{ReadOnly: ro})
		if !errors.Is(err, boltstore.ErrCorrupt) {
			t.Fatalf("read-only %v: Open = %v, want ErrCorrupt", ro, err)
		}
		if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "signet store check") || !strings.Contains(msg, "backup") {
			t.Errorf("error %q: want the file, signet store check and backup named", msg)
		}
	}

	// An honest store beside it keeps working.
	good := open(t, filepath.Join(t.TempDir(), "good.db"))
	if _, err := good.Load(ctx); err != nil {
		t.Fatalf("healthy store: %v", err)
	}
}
