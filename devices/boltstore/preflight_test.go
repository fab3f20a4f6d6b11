package boltstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
)

// TestDamagedFilesAreRefusedUntouched opens files that are not a bbolt
// database, and real stores cut short at every page boundary and mid-page,
// read-only and read-write. Each must fail with an error that names the
// file, must not crash the process (bbolt alone faults with SIGBUS on a
// truncated file), and must leave the file byte for byte as it was.
func TestDamagedFilesAreRefusedUntouched(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.db")
	s := open(t, full)
	for i, id := range []string{"sl-1", "sl-2", "sl-3"} {
		k := newKey(t)
		if err := s.Write(context.Background(), devices.Batch{Devices: []devices.Device{{ID: id, Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k}}}}); err != nil {
			t.Fatalf("device %d: %v", i, err)
		}
	}
	s.Close()
	good, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	type damaged struct {
		name string
		data []byte
		want string
	}
	cases := []damaged{
		{"text file", []byte(strings.Repeat("not a database ", 500)), "corrupt or not a signet store"},
		{"zeros", make([]byte, 8192), "corrupt or not a signet store"},
	}
	for _, n := range []int{100, 4096, 4096 + 100, 8192, 12288, 16384} {
		if n < len(good) {
			cases = append(cases, damaged{"truncated to " + itoa(n), good[:n], "truncated"})
		}
	}
	for _, c := range cases {
		for _, ro := range []bool{true, false} {
			name := c.name
			if ro {
				name += " read-only"
			}
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "damaged.db")
				if err := os.WriteFile(path, c.data, 0o600); err != nil {
					t.Fatal(err)
				}
				s, err := boltstore.Open(path, boltstore.Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("Open(%s) succeeded", c.name)
				}
				if !strings.Contains(err.Error(), "store "+path+": ") || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %q: want it to name %s and say %q", err, path, c.want)
				}
				after, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(after, c.data) {
					t.Fatalf("the refused file was changed: %d bytes before, %d after", len(c.data), len(after))
				}
			})
		}
	}

	// The undamaged original still holds everything.
	snap, err := open(t, full).Load(context.Background())
	if err != nil || len(snap.Devices) != 3 {
		t.Fatalf("original store: %d devices, %v; want 3", len(snap.Devices), err)
	}
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
