package audit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPageWalksRotatedFilesNewestFirst: paging a log rotated into several
// files returns every kept line once, newest first, each page's cursor
// leading to the next, across file boundaries; a log appended to between
// pages does not disturb older pages, and a torn last line is skipped.
func TestPageWalksRotatedFilesNewestFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := OpenWith(path, Options{RotateBytes: 1500, FilesKept: 20})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		if err := l.Append(Event{Time: time.Unix(int64(i), 0).UTC(), Kind: "rejected", Device: "tl-1", Reason: "replay", Counter: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := SeriesFiles(path); len(files) < 4 {
		t.Fatalf("want a log of several files, got %v", files)
	}
	var all []Entry
	var before uint64
	pages := 0
	for {
		page, more, err := Page(path, before, 7)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page) == 0 || len(page) > 7 {
			t.Fatalf("page %d has %d entries", pages, len(page))
		}
		all = append(all, page...)
		if !more {
			break
		}
		before = page[len(page)-1].Seq
		if pages == 2 { // the live file grows meanwhile
			if err := l.Append(Event{Kind: "rejected", Reason: "late"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Close()
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq-1 {
			t.Fatalf("entry %d has seq %d after %d: not newest first without gaps", i, all[i].Seq, all[i-1].Seq)
		}
	}
	if all[len(all)-1].Seq != 1 {
		t.Fatalf("paging stopped at seq %d, want the first line", all[len(all)-1].Seq)
	}
	replays := 0
	for _, e := range all {
		if e.Reason == "late" {
			t.Fatalf("a line appended after the first page showed up in an older page: %+v", e)
		}
		if e.Reason == "replay" {
			replays++
		}
	}
	if replays != n {
		t.Fatalf("%d of the %d events paged", replays, n)
	}

	// A torn tail is skipped; the intact lines before it still page.
	want, _, err := Page(path, 0, 1)
	if err != nil || len(want) != 1 {
		t.Fatal(want, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":9999,"prev":"ab`)
	f.Close()
	page, _, err := Page(path, 0, 1)
	if err != nil || len(page) != 1 || page[0].Seq != want[0].Seq {
		t.Fatalf("after a torn tail: %+v, %v", page, err)
	}
}

// TestPageOfNothing: no file, an empty file and a zero limit give no
// entries and no error for the empty cases.
func TestPageOfNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if page, more, err := Page(path, 0, 10); err != nil || len(page) != 0 || more {
		t.Fatalf("no log: %v %v %v", page, more, err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if page, more, err := Page(path, 0, 10); err != nil || len(page) != 0 || more {
		t.Fatalf("empty log: %v %v %v", page, more, err)
	}
	if page, _, _ := Page(path, 0, 0); page != nil {
		t.Fatalf("limit 0: %v", page)
	}
}
