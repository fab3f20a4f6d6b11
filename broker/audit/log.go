package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
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

// Log appends events to a hash-chained file. It is safe for concurrent use.
// Each Append is written with one write(2); call Sync to make them durable.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	seq  uint64
	prev [sha256.Size]byte
}

// Open opens (or creates) the log at path and verifies the existing chain
// before appending to it: a broken log is reported, never extended.
func Open(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	sum, err := Verify(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	return &Log{f: f, seq: sum.Lines, prev: sum.Head}, nil
}

// Append writes one event as the next line of the chain.
func (l *Log) Append(e Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	line, h, err := encodeLine(l.seq+1, l.prev, e)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(line); err != nil {
		return fmt.Errorf("audit log %s: %w", l.f.Name(), err)
	}
	l.seq++
	l.prev = h
	return nil
}

// Sync flushes appended lines to stable storage.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Sync()
}

// Close syncs and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.f.Sync(); err != nil {
		l.f.Close()
		return err
	}
	return l.f.Close()
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

// Summary describes a verified chain.
type Summary struct {
	Lines uint64            // number of lines
	Head  [sha256.Size]byte // hash of the last line (genesis if empty)
}

// ChainError says where a chain breaks.
type ChainError struct {
	Line   uint64 // 1-based line number
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Verify reads a whole log from r and checks every line's hash, sequence
// number and link to the previous line.
func Verify(r io.Reader) (Summary, error) {
	sum := Summary{Head: genesis}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return sum, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return sum, err
		}
		n := sum.Lines + 1
		if !bytes.HasSuffix(line, []byte("\n")) {
			return sum, &ChainError{n, "truncated line (no newline): the log was cut while writing"}
		}
		h, rec, cerr := checkLine(line[:len(line)-1])
		if cerr != "" {
			return sum, &ChainError{n, cerr}
		}
		if rec.Seq != n {
			return sum, &ChainError{n, fmt.Sprintf("sequence number %d, want %d (a line was removed or inserted)", rec.Seq, n)}
		}
		if rec.Prev != hex.EncodeToString(sum.Head[:]) {
			return sum, &ChainError{n, "prev does not match the previous line's hash (a line was removed, inserted or edited)"}
		}
		sum.Lines, sum.Head = n, h
	}
}

// checkLine verifies one line's own hash and decodes it.
func checkLine(line []byte) ([sha256.Size]byte, record, string) {
	var rec record
	i := bytes.LastIndex(line, hashMarker)
	if i < 0 {
		return genesis, rec, "no hash member"
	}
	body, tail := line[:i], line[i+len(hashMarker):]
	if len(tail) != sha256.Size*2+2 || tail[len(tail)-2] != '"' || tail[len(tail)-1] != '}' {
		return genesis, rec, "malformed hash member"
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], tail[:sha256.Size*2]); err != nil {
		return genesis, rec, "malformed hash member"
	}
	if sha256.Sum256(body) != got {
		return genesis, rec, "hash does not match the line's content (the line was edited)"
	}
	if err := json.Unmarshal(append(bytes.Clone(body), '}'), &rec); err != nil {
		return genesis, rec, "not a JSON record: " + err.Error()
	}
	return got, rec, ""
}
