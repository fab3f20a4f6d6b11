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

// TestSkipAheadIsDurable: after SkipAhead(n) the next counter is at least n
// above the last one used, in this life and after a reboot that comes
// straight after the skip, with no counter used since.
func TestSkipAheadIsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctr")
	var last uint64
	for boot, n := range []uint64{2048, 4, 2048, 100000} {
		s, err := Open(path, 16)
		if err != nil {
			t.Fatal(err)
		}
		if last, err = s.Next(); err != nil {
			t.Fatal(err)
		}
		if err := s.SkipAhead(n); err != nil {
			t.Fatal(err)
		}
		if boot%2 == 1 { // this life goes on after the skip
			c, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if c < last+n {
				t.Fatalf("boot %d: skip %d after %d: next %d, want >= %d", boot, n, last, c, last+n)
			}
			last = c
			continue
		}
		// The process dies straight after the skip.
		rebooted, err := Open(path, 16)
		if err != nil {
			t.Fatal(err)
		}
		c, err := rebooted.Next()
		if err != nil {
			t.Fatal(err)
		}
		if c < last+n {
			t.Fatalf("boot %d: skip %d after %d, then a reboot: next %d, want >= %d", boot, n, last, c, last+n)
		}
		last = c
	}
	s, err := Open(path, 16)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SkipAhead(^uint64(0)); err == nil {
		t.Error("a skip past the counter space was accepted")
	}
}
