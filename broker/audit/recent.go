package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
)

// Path is the file the log appends to.
func (l *Log) Path() string { return l.path }

// ReadRecent returns up to n of the newest events of the log at path, newest
// last, reading the rotated path.1, path.2, ... too when path alone holds
// fewer. The broker seeds its recent-events ring with them, so the API
// and the dashboard's counts survive a restart.
func ReadRecent(path string, n int) ([]Event, error) {
	if n <= 0 {
		return nil, nil
	}
	evs, err := readEvents(path, n)
	if err != nil {
		return nil, err
	}
	for k := 1; len(evs) < n; k++ {
		older, err := readEvents(rotatedName(path, k), n-len(evs))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
		evs = append(older, evs...)
	}
	return evs, nil
}

// readEvents returns the last n events of one file (lines that do not
// decode, such as a torn tail, are skipped).
func readEvents(path string, n int) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ring := make([]Event, 0, n)
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
		if len(ring) < n {
			ring = append(ring, rec.Event)
		} else {
			ring[next] = rec.Event
			next = (next + 1) % n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return append(ring[next:], ring[:next]...), nil
}
