package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
)

// Entry is one line of the log: its sequence number, which orders the
// whole series of rotated files, and its event.
type Entry struct {
	Seq uint64 `json:"seq"`
	Event
}

// Page returns up to limit entries of the log at path whose sequence number
// is below before (0: from the newest), newest first, reading the rotated
// path.1, path.2, ... as far as needed. more says whether older entries
// remain; the oldest entry's Seq is then the cursor of the next page.
//
// A rotation while a page is read shifts the files one place older; since
// entries are chosen by sequence number, a file seen twice adds nothing and
// none is skipped.
func Page(path string, before uint64, limit int) (page []Entry, more bool, err error) {
	if limit <= 0 {
		return nil, false, nil
	}
	want := limit + 1 // one more than asked: whether there is a next page
	for k := 0; len(page) < want; k++ {
		name := path
		if k > 0 {
			name = rotatedName(path, k)
		}
		got, err := entriesBefore(name, before, want-len(page))
		if errors.Is(err, fs.ErrNotExist) {
			if k == 0 {
				continue // between a rotation's rename and the new file
			}
			break
		}
		if err != nil {
			return nil, false, err
		}
		for i := len(got) - 1; i >= 0; i-- { // newest first
			page = append(page, got[i])
		}
		if len(got) > 0 {
			before = got[0].Seq
		} else if before == 0 {
			before = ^uint64(0) // an empty newest file: older ones still count
		}
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	return page, false, nil
}

// entriesBefore returns the last n entries of one file with a sequence
// number below before (0: no bound), oldest first. Lines that do not
// decode, such as a torn tail, are skipped.
func entriesBefore(path string, before uint64, n int) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ring := make([]Entry, 0, n)
	next := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var rec record
		line := sc.Bytes()
		i := bytes.LastIndex(line, hashMarker)
		if i < 0 || json.Unmarshal(append(bytes.Clone(line[:i]), '}'), &rec) != nil {
			continue
		}
		if before != 0 && rec.Seq >= before {
			break // lines are in sequence order
		}
		e := Entry{Seq: rec.Seq, Event: rec.Event}
		if len(ring) < n {
			ring = append(ring, e)
		} else {
			ring[next] = e
			next = (next + 1) % n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return append(ring[next:], ring[:next]...), nil
}
