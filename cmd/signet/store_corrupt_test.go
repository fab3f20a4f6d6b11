package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// TestCorruptStoreIsOneLine: a store whose root data page is overwritten
// with garbage makes serve, device list and twin get print one line naming
// the file and what to do, and exit 1, with no bbolt panic or stack trace;
// the same commands on a healthy store keep working.
func TestCorruptStoreIsOneLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.db")
	good := filepath.Join(dir, "good.db")
	for _, p := range []string{bad, good} {
		writeOneDevice(t, p)
	}
	overwriteRootPage(t, bad)

	for _, args := range [][]string{
		{"serve", "--store", bad, "--mqtt-addr", "127.0.0.1:0", "--http-addr", ""},
		{"device", "list", "--db", bad},
		{"twin", "get", "--db", bad, "sl-1"},
	} {
		var out, errb bytes.Buffer
		code := run(args, strings.NewReader(""), &out, &errb)
		msg := errb.String()
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 (stderr %q)", args, code, msg)
		}
		if strings.Count(strings.TrimRight(msg, "\n"), "\n") != 0 || strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic:") {
			t.Errorf("%v: stderr is not one line:\n%s", args, msg)
		}
		for _, want := range []string{bad, "corrupt", "signet store check " + bad, "backup"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: stderr %q does not say %q", args, msg, want)
			}
		}
	}

	// The honest store beside it is untouched by all this.
	for _, args := range [][]string{{"device", "list", "--db", good}, {"twin", "get", "--db", good, "sl-1"}} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "sl-1") {
			t.Errorf("%v on a healthy store: exit %d, stdout %q, stderr %q", args, code, out.String(), errb.String())
		}
	}
}

// writeOneDevice makes a store at path holding device sl-1.
func writeOneDevice(t *testing.T, path string) {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{{KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}}}
	if err := s.Write(context.Background(), devices.Batch{Devices: []devices.Device{d}}); err != nil {
		t.Fatal(err)
	}
}

// overwriteRootPage fills the page at the root of the newest meta's bucket
// tree with garbage. bbolt's meta (after a 16-byte page header): magic,
// version, page size, flags (4 bytes each), root page id at 16, txid at 48.
func overwriteRootPage(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ne := binary.NativeEndian
	meta := func(off int64) (ps, root, txid uint64) {
		b := make([]byte, 80)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		m := b[16:]
		return uint64(ne.Uint32(m[8:])), ne.Uint64(m[16:]), ne.Uint64(m[48:])
	}
	ps, root, txid := meta(0)
	if _, r1, tx1 := meta(int64(ps)); tx1 > txid {
		root = r1
	}
	if root < 2 {
		t.Fatalf("root page %d is not a data page", root)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xab}, int(ps)), int64(root*ps)); err != nil {
		t.Fatal(err)
	}
}
