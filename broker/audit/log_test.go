package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := l.Append(Event{Time: time.Unix(int64(i), 0).UTC(), Kind: "rejected", Device: "tl-1", Reason: "replay", Counter: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChainVerifiesAndReopenExtendsIt(t *testing.T) {
	path := writeLog(t, 5)
	l, err := Open(path) // reopen: verifies, then continues the chain
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Event{Kind: "auth_failed", Reason: "bad_password"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	f, _ := os.Open(path)
	defer f.Close()
	sum, err := Verify(f)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if sum.Lines != 6 {
		t.Fatalf("lines = %d, want 6", sum.Lines)
	}
}

// TestEveryOneByteEditIsDetected changes each byte of the log in turn.
func TestEveryOneByteEditIsDetected(t *testing.T) {
	path := writeLog(t, 3)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		edited := bytes.Clone(orig)
		edited[i] ^= 0x01
		if _, err := Verify(bytes.NewReader(edited)); err == nil {
			t.Fatalf("edit of byte %d (%q) not detected", i, orig[i])
		}
	}
}

func TestRemovedOrReorderedLinesAreDetected(t *testing.T) {
	path := writeLog(t, 3)
	orig, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(orig, []byte("\n"))[:3]
	cases := map[string][]byte{
		"first removed":  bytes.Join([][]byte{lines[1], lines[2]}, nil),
		"middle removed": bytes.Join([][]byte{lines[0], lines[2]}, nil),
		"swapped":        bytes.Join([][]byte{lines[1], lines[0], lines[2]}, nil),
		"duplicated":     bytes.Join([][]byte{lines[0], lines[0], lines[1]}, nil),
	}
	for name, data := range cases {
		_, err := Verify(bytes.NewReader(data))
		var ce *ChainError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a ChainError", name, err)
		}
	}
	// A line cut while it was written is a torn tail, told apart from a
	// broken chain; the lines before it still verify.
	sum, err := Verify(bytes.NewReader(orig[:len(orig)-5]))
	var torn *TornTailError
	if !errors.As(err, &torn) || sum.Lines != 2 || torn.Line != 3 || torn.Offset != int64(len(lines[0])+len(lines[1])) {
		t.Errorf("cut mid-line: got %v (summary %+v), want a torn tail at line 3 after 2 good lines", err, sum)
	}
}

func TestOpenRefusesABrokenLog(t *testing.T) {
	path := writeLog(t, 2)
	data, _ := os.ReadFile(path)
	data[10] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, err := Open(path); err == nil {
		t.Fatal("Open extended a broken chain")
	}
}
