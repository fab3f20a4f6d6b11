package audit

import (
	"errors"
	"io/fs"
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
	entries, err := entriesBefore(path, 0, n)
	if err != nil {
		return nil, err
	}
	evs := make([]Event, len(entries))
	for i, e := range entries {
		evs[i] = e.Event
	}
	return evs, nil
}
