package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func verifyFile(t *testing.T, path string) Summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, err := Verify(f)
	if err != nil {
		t.Fatalf("Verify %s: %v", path, err)
	}
	return sum
}

// lastEvent decodes the last line of a log.
func lastEvent(t *testing.T, path string) Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	_, rec, cerr := checkLine(lines[len(lines)-1])
	if cerr != "" {
		t.Fatal(cerr)
	}
	return rec.Event
}

func TestOpenMovesATornTailAsideAndRecordsIt(t *testing.T) {
	path := writeLog(t, 3)
	good, _ := os.ReadFile(path)
	torn := []byte(`{"seq":4,"prev":"00ab`) // a line cut by a full disk
	os.WriteFile(path, append(bytes.Clone(good), torn...), 0o600)

	l, err := Open(path)
	if err != nil {
		t.Fatalf("Open refused a log with a torn tail: %v", err)
	}
	cut, side := l.TornTail()
	if cut == nil || cut.Bytes != int64(len(torn)) || cut.Line != 4 {
		t.Fatalf("TornTail = %+v", cut)
	}
	if err := l.Append(Event{Kind: "rejected", Reason: "replay"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	saved, err := os.ReadFile(side)
	if err != nil || !bytes.Equal(saved, torn) {
		t.Fatalf("side file %s holds %q (%v), want the torn bytes", side, saved, err)
	}
	if filepath.Dir(side) != filepath.Dir(path) || !strings.HasPrefix(filepath.Base(side), "audit.jsonl.torn-") {
		t.Errorf("side file %s", side)
	}
	sum := verifyFile(t, path)
	if sum.Lines != 5 {
		t.Fatalf("lines = %d, want the 3 good ones, the torn-tail event and the new one", sum.Lines)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, good) {
		t.Fatal("the intact prefix was changed")
	}
	lines := bytes.Split(data, []byte("\n"))
	_, rec, _ := checkLine(lines[3])
	if rec.Event.Kind != KindTornTail || !strings.Contains(rec.Event.Detail, side) || !strings.Contains(rec.Event.Detail, "21 bytes") {
		t.Fatalf("line 4 = %+v, want the torn-tail event naming %s and the byte count", rec.Event, side)
	}
}

func TestOpenStillRefusesALineBrokenInsideTheChain(t *testing.T) {
	path := writeLog(t, 3)
	data, _ := os.ReadFile(path)
	data = append(data, []byte("not a line\n")...) // complete, but no line of the chain
	os.WriteFile(path, data, 0o600)
	_, err := Open(path)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 4 {
		t.Fatalf("Open: %v, want a ChainError at line 4", err)
	}
}

func TestOpenKeepsAValidLastLineThatLostOnlyItsNewline(t *testing.T) {
	path := writeLog(t, 2)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o600)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if cut, _ := l.TornTail(); cut != nil {
		t.Fatalf("a valid line was treated as torn: %+v", cut)
	}
	l.Append(Event{Kind: "rejected", Reason: "replay"})
	l.Close()
	if sum := verifyFile(t, path); sum.Lines != 3 {
		t.Fatalf("lines = %d, want 3", sum.Lines)
	}
}

// shortFile writes only part of a line and then fails, as write(2) does when
// the disk fills mid-line.
type shortFile struct {
	logFile
	fail bool
}

func (s *shortFile) Write(p []byte) (int, error) {
	if s.fail {
		n, _ := s.logFile.Write(p[:len(p)/2])
		return n, errors.New("no space left on device")
	}
	return s.logFile.Write(p)
}

func TestFailedAppendLeavesNoPartialLine(t *testing.T) {
	path := writeLog(t, 2)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sf := &shortFile{logFile: l.f, fail: true}
	l.f = sf
	if err := l.Append(Event{Kind: "rejected", Reason: "replay", Detail: "lost to a full disk"}); err == nil {
		t.Fatal("a short write was not reported")
	}
	sf.fail = false // space again
	if err := l.Append(Event{Kind: "rejected", Reason: "bad_signature"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	sum := verifyFile(t, path)
	if sum.Lines != 3 {
		t.Fatalf("lines = %d, want 3: the failed line undone, the next one whole", sum.Lines)
	}
	if ev := lastEvent(t, path); ev.Reason != "bad_signature" {
		t.Fatalf("last event %+v", ev)
	}
}
