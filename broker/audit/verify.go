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
)

// KindRotated is the kind of the event that opens every file after the first
// of a rotated series: it chains to the last line of the previous file.
const KindRotated = "audit_rotated"

// KindTornTail is the kind of the event written when Open cut a torn last
// line off the log.
const KindTornTail = "audit_torn_tail"

// Summary describes a verified chain (one file or a series).
type Summary struct {
	Lines    uint64            // number of complete lines
	FirstSeq uint64            // sequence number of the first line (0 if empty)
	LastSeq  uint64            // sequence number of the last line (0 if empty)
	Start    [sha256.Size]byte // "prev" of the first line: genesis for a fresh chain
	Head     [sha256.Size]byte // hash of the last line (Start if empty)
	Bytes    int64             // length of the verified lines, newlines included
	// NoNewline is set when the last line is complete and valid but its
	// newline is missing (a write cut just before it); Open adds it.
	NoNewline bool
}

// Continues reports whether the chain starts after lines that are not in it
// (a file opened by a rotation).
func (s Summary) Continues() bool { return s.Lines > 0 && s.FirstSeq != 1 }

// ChainError says where a chain breaks: an edited, inserted, removed or
// reordered line.
type ChainError struct {
	Line   uint64 // 1-based line number in its file
	Reason string
}

func (e *ChainError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// TornTailError says the log ends in a line that was cut while it was being
// written (a crash or a full disk): everything before Offset verifies.
type TornTailError struct {
	Line   uint64 // 1-based line number of the torn line
	Offset int64  // where the torn bytes start
	Bytes  int64  // how many torn bytes follow
}

func (e *TornTailError) Error() string {
	return fmt.Sprintf("torn tail: line %d (%d bytes at offset %d) has no newline and is no valid line; the lines before it verify", e.Line, e.Bytes, e.Offset)
}

// Verify reads a whole log from r and checks every line's hash, sequence
// number and link to the previous line. The first line either starts a
// chain (sequence 1, prev of 64 zeros) or is a KindRotated line continuing a
// previous file, whose lines VerifySeries can check too. A torn last line is
// reported as a *TornTailError, any other fault as a *ChainError; the
// Summary always describes the verified prefix.
func Verify(r io.Reader) (Summary, error) {
	sum := Summary{Start: genesis, Head: genesis}
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
		complete := bytes.HasSuffix(line, []byte("\n"))
		body := bytes.TrimSuffix(line, []byte("\n"))
		h, rec, cerr := checkLine(body)
		if !complete && (cerr != "" || !sum.links(rec, n)) {
			return sum, &TornTailError{Line: n, Offset: sum.Bytes, Bytes: int64(len(line))}
		}
		if cerr != "" {
			return sum, &ChainError{n, cerr}
		}
		if n == 1 {
			if rec.Seq != 1 || rec.Prev != hex.EncodeToString(genesis[:]) {
				if rec.Event.Kind != KindRotated || rec.Seq < 2 {
					return sum, &ChainError{n, "the first line neither starts a chain nor continues a rotated file (lines were removed from the start)"}
				}
			}
			sum.FirstSeq = rec.Seq
			sum.Start, _ = decodeHash(rec.Prev)
			sum.Head = sum.Start
		} else if rec.Seq != sum.LastSeq+1 {
			return sum, &ChainError{n, fmt.Sprintf("sequence number %d, want %d (a line was removed or inserted)", rec.Seq, sum.LastSeq+1)}
		} else if rec.Prev != hex.EncodeToString(sum.Head[:]) {
			return sum, &ChainError{n, "prev does not match the previous line's hash (a line was removed, inserted or edited)"}
		}
		sum.Lines, sum.LastSeq, sum.Head = n, rec.Seq, h
		sum.Bytes += int64(len(line))
		if !complete {
			sum.NoNewline = true
			return sum, nil
		}
	}
}

// links reports whether rec could follow the verified prefix: line n of a
// file, with the right sequence number and prev.
func (s Summary) links(rec record, n uint64) bool {
	if n == 1 {
		return rec.Seq >= 1
	}
	return rec.Seq == s.LastSeq+1 && rec.Prev == hex.EncodeToString(s.Head[:])
}

func decodeHash(s string) ([sha256.Size]byte, bool) {
	var h [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return h, false
	}
	copy(h[:], b)
	return h, true
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
	if _, ok := decodeHash(rec.Prev); !ok {
		return genesis, rec, "prev is not a SHA-256 in hex"
	}
	return got, rec, ""
}
