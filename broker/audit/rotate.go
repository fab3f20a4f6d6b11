package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// rotate closes the full file, moves it to path.1 (path.1 to path.2 and so
// on, dropping what passes FilesKept) and starts a new file whose first line
// chains to the old file's last one.
func (l *Log) rotate() error {
	f := l.f
	l.f = nil
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return l.recover(fmt.Errorf("audit log %s: rotating: %w", l.path, err))
	}
	note, err := l.shift()
	if err != nil {
		return l.recover(fmt.Errorf("audit log %s: rotating: %w", l.path, err))
	}
	return l.startFile(note)
}

// recover reopens the log file after a failed rotation, so the chain goes on
// in it (the next Append tries to rotate again).
func (l *Log) recover(err error) error {
	if serr := l.startFile(""); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// shift removes the rotated files at and past FilesKept, moves each other
// one up, and renames the log to path.1. It returns a note naming what was
// removed, for the new file's first line.
func (l *Log) shift() (string, error) {
	rotated, err := rotatedIndices(l.path)
	if err != nil {
		return "", err
	}
	var removed []string
	var from uint64
	to := l.fileFirst - 1 // the line before the oldest file kept
	for i := len(rotated) - 1; i >= 0; i-- {
		name := rotatedName(l.path, rotated[i])
		seq, err := firstSeq(name)
		if err != nil {
			return "", err
		}
		if rotated[i] < l.opts.FilesKept {
			to = seq - 1
			break
		}
		if from == 0 || seq < from {
			from = seq
		}
		if err := os.Remove(name); err != nil {
			return "", err
		}
		removed = append(removed, filepath.Base(name))
	}
	for i := len(rotated) - 1; i >= 0; i-- {
		if n := rotated[i]; n < l.opts.FilesKept {
			if err := os.Rename(rotatedName(l.path, n), rotatedName(l.path, n+1)); err != nil {
				return "", err
			}
		}
	}
	if err := os.Rename(l.path, rotatedName(l.path, 1)); err != nil {
		return "", err
	}
	if err := syncDir(l.path); err != nil {
		return "", err
	}
	if len(removed) == 0 {
		return "", nil
	}
	return fmt.Sprintf("; removed the oldest rotated file(s) %s (seq %d to %d), so the series now starts after seq %d",
		strings.Join(removed, ", "), from, to, to), nil
}

// startFile opens a new log file at path whose first line (KindRotated)
// continues the chain from the file just rotated to path.1. If path is still
// there (a rotation failed before renaming it), it is reopened instead.
func (l *Log) startFile(note string) error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if errors.Is(err, fs.ErrExist) {
		if f, err = os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0o600); err != nil {
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("audit log %s: %w", l.path, err)
		}
		l.f, l.size = f, st.Size()
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	l.f, l.size = f, 0
	if err := syncDir(l.path); err != nil {
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	return l.appendRotated(note)
}

// appendRotated writes the first line of a new file: it chains to the last
// line of path.1 and says what that file held and what was removed.
func (l *Log) appendRotated(note string) error {
	prevFirst := l.fileFirst
	l.fileFirst = l.seq + 1
	return l.appendLocked(Event{
		Time: l.opts.Now().UTC(), Kind: KindRotated, Reason: "rotated",
		Detail: fmt.Sprintf("continues %s (seq %d to %d, head %s)%s",
			filepath.Base(rotatedName(l.path, 1)), prevFirst, l.seq, hex.EncodeToString(l.prev[:]), note),
	})
}

// continueRotated is for an empty log: if path.1 exists (the broker stopped
// between renaming the log and writing the new file's first line), the
// chain continues from path.1's last line.
func (l *Log) continueRotated() error {
	prev := rotatedName(l.path, 1)
	f, err := os.Open(prev)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	sum, err := Verify(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("continuing %s: %w", prev, err)
	}
	if sum.Lines == 0 {
		return nil
	}
	l.seq, l.prev, l.fileFirst = sum.LastSeq, sum.Head, sum.FirstSeq
	return l.appendRotated("")
}

// firstSeq reads the sequence number of a file's first line.
func firstSeq(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 64<<10).ReadBytes('\n')
	if err != nil {
		return 0, fmt.Errorf("%s: reading its first line: %w", path, err)
	}
	_, rec, cerr := checkLine(bytes.TrimSuffix(line, []byte("\n")))
	if cerr != "" {
		return 0, fmt.Errorf("%s: line 1: %s", path, cerr)
	}
	return rec.Seq, nil
}

// syncDir makes a rename or a new file in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
