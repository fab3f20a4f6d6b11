package counter

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRebootsNeverRepeatACounter "kills" the device 50 times at random points
// (dropping its memory; only the file survives) and checks every counter it
// ever handed out is unique and increasing.
func TestRebootsNeverRepeatACounter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr")
	var last uint64
	seen := map[uint64]bool{}
	for boot := range 50 {
		s, err := Open(path, 16)
		if err != nil {
			t.Fatal(err)
		}
		for range boot*7%40 + 1 { // a different number of messages each life
			c, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if c <= last || seen[c] {
				t.Fatalf("boot %d: counter %d after %d (repeat or decrease)", boot, c, last)
			}
			seen[c], last = true, c
		}
		// No Close: the process dies here.
	}
}

func TestDamagedFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr")
	os.WriteFile(path, []byte{1, 2, 3}, 0o600)
	if _, err := Open(path, 0); err == nil {
		t.Fatal("damaged counter file accepted")
	}
}
