// Package strictjson decodes the JSON objects that signed messages carry
// (reported state, merge patches, command arguments) so that every reader
// sees exactly one meaning. RFC 8259 §4 only says member names "SHOULD be
// unique" and leaves the result of duplicates to the parser: encoding/json
// keeps the last, others keep the first or fail. A broker that validated
// one value while a device or a dashboard acted on another would be
// validating nothing, so this decoder refuses what parsers disagree on:
// duplicate member names at any depth, invalid UTF-8 and lone surrogate
// escapes (RFC 8259 §8.2), trailing data after the object, and nesting
// deeper than a bound (a stack-depth guard, RFC 8259 §9).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultMaxDepth is the nesting bound when a caller gives none: far more
// than any device profile uses (two or three levels), small enough that a
// hostile document cannot make a reader recurse deeply.
const DefaultMaxDepth = 32

// Error is a refusal, naming where in the document it happened.
type Error struct {
	Path   string // JSON path of the offending member, "" for the document itself
	Offset int64  // byte offset in the input
	Msg    string
}

// Error renders "path: msg".
func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = "document"
	}
	return fmt.Sprintf("%s: %s (byte %d)", where, e.Msg, e.Offset)
}

// DecodeObject decodes b, which must be exactly one JSON object, into the
// values encoding/json would produce for it (map[string]any, []any,
// float64, string, bool, nil). maxDepth ≤ 0 means DefaultMaxDepth; the top
// object is depth 1. Every error is an *Error.
func DecodeObject(b []byte, maxDepth int) (map[string]any, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := &decoder{src: b, dec: json.NewDecoder(bytes.NewReader(b)), maxDepth: maxDepth}
	tok, err := d.next("")
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, d.fail("", "must be a JSON object")
	}
	obj, err := d.object("", 1)
	if err != nil {
		return nil, err
	}
	// A second value, or anything but whitespace, after the object.
	if _, err := d.dec.Token(); err != io.EOF {
		return nil, d.fail("", "trailing data after the object")
	}
	return obj, nil
}

type decoder struct {
	src      []byte
	dec      *json.Decoder
	maxDepth int
}

func (d *decoder) fail(path, format string, args ...any) *Error {
	return &Error{Path: shorten(path), Offset: d.dec.InputOffset(), Msg: fmt.Sprintf(format, args...)}
}

// maxPathBytes bounds the path an error carries: a hostile member name may
// be tens of kilobytes, and errors end up in security events and logs.
const maxPathBytes = 128

// shorten cuts path to maxPathBytes, on a rune boundary, marking the cut.
func shorten(path string) string {
	if len(path) <= maxPathBytes {
		return path
	}
	cut := maxPathBytes
	for cut > 0 && !utf8.RuneStart(path[cut]) {
		cut--
	}
	return strings.ToValidUTF8(path[:cut], "?") + "…"
}

// next reads one token and checks the bytes it came from: encoding/json
// silently turns invalid UTF-8 and lone surrogates into U+FFFD, so the
// check has to look at the raw bytes.
func (d *decoder) next(path string) (json.Token, error) {
	start := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err != nil {
		msg := "not JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			msg = "not JSON: " + se.Error()
		} else if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of input"
		}
		return nil, d.fail(path, "%s", msg)
	}
	raw := d.src[start:d.dec.InputOffset()]
	if s, ok := tok.(string); ok {
		if !utf8.Valid(raw) {
			return nil, d.fail(path, "invalid UTF-8")
		}
		if strings.Count(s, "\uFFFD") > replacementsIn(raw) {
			return nil, d.fail(path, "lone UTF-16 surrogate escape")
		}
	}
	return tok, nil
}

// replacementsIn counts the U+FFFD that a raw string token spells out,
// literally or as an escape; any more in the decoded string came from a
// lone surrogate.
func replacementsIn(raw []byte) int {
	n := bytes.Count(raw, []byte("\uFFFD"))
	lower := bytes.ToLower(raw)
	return n + bytes.Count(lower, []byte(`\ufffd`))
}

// object reads the members of an object whose '{' has been read.
func (d *decoder) object(path string, depth int) (map[string]any, error) {
	if depth > d.maxDepth {
		return nil, d.fail(path, "nested deeper than %d levels", d.maxDepth)
	}
	out := map[string]any{}
	for d.dec.More() {
		tok, err := d.next(path)
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, d.fail(path, "member name must be a string")
		}
		p := join(path, name)
		if _, dup := out[name]; dup {
			return nil, d.fail(p, "duplicate member name")
		}
		v, err := d.value(p, depth)
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	if _, err := d.next(path); err != nil { // the closing '}'
		return nil, err
	}
	return out, nil
}

// array reads the elements of an array whose '[' has been read.
func (d *decoder) array(path string, depth int) ([]any, error) {
	if depth > d.maxDepth {
		return nil, d.fail(path, "nested deeper than %d levels", d.maxDepth)
	}
	out := []any{}
	for i := 0; d.dec.More(); i++ {
		v, err := d.value(path+"["+strconv.Itoa(i)+"]", depth)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if _, err := d.next(path); err != nil { // the closing ']'
		return nil, err
	}
	return out, nil
}

// value reads one member value or array element at depth (its container's).
func (d *decoder) value(path string, depth int) (any, error) {
	tok, err := d.next(path)
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		return d.object(path, depth+1)
	case json.Delim('['):
		return d.array(path, depth+1)
	}
	return tok, nil
}

// join appends a member name to a dotted path, as kinds names fields.
func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
