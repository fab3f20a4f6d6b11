package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// genesis is the "prev" of the first line.
var genesis = [sha256.Size]byte{}

// hashMarker separates a line's hashed body from its hash.
var hashMarker = []byte(`,"hash":"`)

// record is the JSON shape of one line, without its hash.
type record struct {
	Seq   uint64 `json:"seq"`
	Prev  string `json:"prev"`
	Event Event  `json:"event"`
}

// Options are the limits of a Log.
type Options struct {
	// RotateBytes: once the file has reached this size it is renamed to
	// path.1 (older ones move up) and a new file continues the chain
	// (0: never rotate).
	RotateBytes int64
	// FilesKept is how many rotated files are kept; the oldest beyond it
	// is removed, and the next file's first line says so (0: 8).
	FilesKept int
	// Now is the clock of the log's own events (nil: time.Now).
	Now func() time.Time
}

// logFile is what Log needs of its file (a test may inject faults).
type logFile interface {
	io.Writer
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Log appends events to a hash-chained file. It is safe for concurrent use.
// Each Append is written with one write(2); call Sync to make them durable.
type Log struct {
	mu   sync.Mutex
	path string
	opts Options
	f    logFile // nil after a rotation that could not start the new file
	size int64   // bytes in f, all of them complete lines
	seq  uint64
	prev [sha256.Size]byte
	// fileFirst is the sequence number of the current file's first line.
	fileFirst uint64
	closed    bool
	torn      *TornTailError // what Open cut off, if anything
	tornSide  string         // where Open moved the torn bytes
}

// Open opens (or creates) the log at path without rotation.
func Open(path string) (*Log, error) { return OpenWith(path, Options{}) }

// OpenWith opens (or creates) the log at path and verifies the existing
// chain before appending to it: a log broken inside is reported, never
// extended. A torn last line (a crash or a full disk while writing) must not
// keep the broker down: its bytes are moved to a side file, the log is
// truncated to its intact lines and a KindTornTail event records the cut. An
// empty log next to a rotated path.1 (a crash during rotation) continues
// path.1's chain.
func OpenWith(path string, o Options) (*Log, error) {
	if o.FilesKept <= 0 {
		o.FilesKept = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	l := &Log{path: path, opts: o, f: f}
	if err := l.load(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	return l, nil
}

// load verifies the open file and sets the chain's state, repairing a torn
// tail or continuing a rotated file as OpenWith says.
func (l *Log) load(f *os.File) error {
	sum, err := Verify(f)
	var torn *TornTailError
	switch {
	case errors.As(err, &torn):
		if err := l.cutTornTail(f, torn); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	l.size, l.seq, l.prev, l.fileFirst = sum.Bytes, sum.LastSeq, sum.Head, sum.FirstSeq
	if sum.NoNewline {
		if _, err := f.Write([]byte("\n")); err != nil {
			return err
		}
		l.size++
	}
	if sum.Lines == 0 {
		if err := l.continueRotated(); err != nil {
			return err
		}
	}
	if torn != nil {
		l.torn = torn
		return l.appendLocked(Event{
			Time: l.opts.Now().UTC(), Kind: KindTornTail, Reason: "torn_tail",
			Detail: fmt.Sprintf("cut %d bytes of a torn line %d at offset %d; moved to %s", torn.Bytes, torn.Line, torn.Offset, l.tornSide),
		})
	}
	return nil
}

// TornTail returns what Open cut off the log (nil: nothing) and the side
// file the bytes were moved to.
func (l *Log) TornTail() (*TornTailError, string) { return l.torn, l.tornSide }

// Append writes one event as the next line of the chain, and rotates the
// file when it has reached Options.RotateBytes.
func (l *Log) Append(e Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("audit log %s: closed", l.path)
	}
	if l.f == nil {
		if err := l.startFile(""); err != nil {
			return err
		}
	}
	if err := l.appendLocked(e); err != nil {
		return err
	}
	if l.opts.RotateBytes > 0 && l.size >= l.opts.RotateBytes {
		return l.rotate()
	}
	return nil
}

// appendLocked writes one line. A failed or short write is undone by
// truncating to the previous size, so the next line never continues a
// partial one.
func (l *Log) appendLocked(e Event) error {
	line, h, err := encodeLine(l.seq+1, l.prev, e)
	if err != nil {
		return err
	}
	if n, err := l.f.Write(line); err != nil || n != len(line) {
		if err == nil {
			err = io.ErrShortWrite
		}
		if terr := l.f.Truncate(l.size); terr != nil {
			return fmt.Errorf("audit log %s: %w; undoing the partial line failed too: %v", l.path, err, terr)
		}
		return fmt.Errorf("audit log %s: %w", l.path, err)
	}
	l.size += int64(len(line))
	l.seq++
	l.prev = h
	return nil
}

// Sync flushes appended lines to stable storage.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	return l.f.Sync()
}

// Close syncs and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.f == nil {
		l.closed = true
		return nil
	}
	f := l.f
	l.f, l.closed = nil, true
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// encodeLine returns the full line (with its newline) and its hash.
func encodeLine(seq uint64, prev [sha256.Size]byte, e Event) ([]byte, [sha256.Size]byte, error) {
	body, err := json.Marshal(record{Seq: seq, Prev: hex.EncodeToString(prev[:]), Event: e})
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("audit: encoding event: %w", err)
	}
	body = body[:len(body)-1] // drop the closing brace; the hash member closes the object
	h := sha256.Sum256(body)
	line := make([]byte, 0, len(body)+len(hashMarker)+sha256.Size*2+3)
	line = append(line, body...)
	line = append(line, hashMarker...)
	line = hex.AppendEncode(line, h[:])
	line = append(line, '"', '}', '\n')
	return line, h, nil
}
