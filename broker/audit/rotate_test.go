package audit

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// firstEvent decodes the first line of a log file.
func firstEvent(t *testing.T, path string) Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	_, rec, cerr := checkLine([]byte(line))
	if cerr != "" {
		t.Fatal(cerr)
	}
	return rec.Event
}

func TestRotationKeepsTheChainAcrossFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenWith(path, Options{RotateBytes: 2000, FilesKept: 3})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if err := l.Append(Event{Time: time.Unix(int64(i), 0).UTC(), Kind: "rejected", Device: "tl-1", Reason: "replay", Counter: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	files, err := SeriesFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 { // the live file and three rotated ones
		t.Fatalf("files = %v, want audit.jsonl and .1 to .3", files)
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > 2000+1000 {
			t.Errorf("%s is %d bytes, past the rotation size by more than a line", f, st.Size())
		}
	}
	// In the order the command line names them, and reversed: the chain
	// orders them.
	for _, order := range [][]string{files, reversed(files)} {
		total, per, err := VerifyFiles(order)
		if err != nil {
			t.Fatalf("VerifyFiles(%v): %v", order, err)
		}
		live := per[slices.IndexFunc(per, func(f FileSummary) bool { return f.Path == path })]
		if total.LastSeq != live.LastSeq || total.Head != live.Head || !total.Continues() {
			t.Fatalf("total %+v: want the newest head and a start after removed files", total)
		}
	}
	// The oldest kept file's start is explained by the removal record in
	// a later file's first line.
	oldest := files[len(files)-1]
	start := verifyFile(t, oldest).FirstSeq
	var explained bool
	for _, f := range files {
		if ev := firstEvent(t, f); ev.Kind == KindRotated && strings.Contains(ev.Detail, "removed the oldest") &&
			strings.Contains(ev.Detail, "starts after seq ") {
			explained = explained || strings.Contains(ev.Detail, "after seq "+strconv.FormatUint(start-1, 10))
		}
	}
	if !explained {
		t.Errorf("no first line says the series starts after seq %d", start-1)
	}
	// A file missing from the middle of the series is found.
	_, _, err = VerifyFiles([]string{files[0], files[2]})
	var ce *ChainError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("gap: %v, want a chain error about a missing file", err)
	}
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func TestRemovingTheFirstLinesOfAFileIsDetected(t *testing.T) {
	path := writeLog(t, 3)
	data, _ := os.ReadFile(path)
	_, rest, _ := strings.Cut(string(data), "\n")
	os.WriteFile(path, []byte(rest), 0o600)
	_, err := Open(path)
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Line != 1 {
		t.Fatalf("Open: %v, want a ChainError at line 1", err)
	}
}

func TestEmptyLogAfterARotationCrashContinuesTheChain(t *testing.T) {
	path := writeLog(t, 3)
	if err := os.Rename(path, path+".1"); err != nil { // the crash: renamed, no new file yet
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Append(Event{Kind: "rejected", Reason: "replay"})
	l.Close()
	total, _, err := VerifyFiles([]string{path, path + ".1"})
	if err != nil || total.Lines != 5 || total.Continues() {
		t.Fatalf("series %+v: %v, want 5 lines from seq 1", total, err)
	}
}

func TestReadRecentReadsAcrossARotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenWith(path, Options{RotateBytes: 1500, FilesKept: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		l.Append(Event{Kind: "rejected", Reason: "replay", Counter: uint64(i + 1)})
	}
	l.Close()
	evs, err := ReadRecent(path, 12)
	if err != nil {
		t.Fatal(err)
	}
	var counters []uint64
	for _, e := range evs {
		if e.Kind == "rejected" {
			counters = append(counters, e.Counter)
		}
	}
	if len(evs) != 12 || counters[len(counters)-1] != 30 || !slices.IsSorted(counters) {
		t.Fatalf("got %d events, counters %v: want the newest 12 in order", len(evs), counters)
	}
}
