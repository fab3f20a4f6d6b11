package strictjson

// The Token-based decoder that DecodeObject replaced, kept as the oracle
// that FuzzDecodeObject compares it with: built on encoding/json.Decoder,
// it is slow but its grammar, values and error messages are encoding/json's
// own, so the two can only agree if the hand-written scanner reads JSON as
// encoding/json does. It differs from the code it preserves in one fix,
// described at oracleReplacements.

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

// oracleDecodeObject is DecodeObject as it was.
func oracleDecodeObject(b []byte, maxDepth int) (map[string]any, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := &oracle{src: b, dec: json.NewDecoder(bytes.NewReader(b)), maxDepth: maxDepth}
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

type oracle struct {
	src      []byte
	dec      *json.Decoder
	maxDepth int
}

func (d *oracle) fail(path, format string, args ...any) *Error {
	return &Error{Path: shorten(path), Offset: d.dec.InputOffset(), Msg: fmt.Sprintf(format, args...)}
}

// next reads one token and checks the bytes it came from: encoding/json
// silently turns invalid UTF-8 and lone surrogates into U+FFFD, so the
// check has to look at the raw bytes.
func (d *oracle) next(path string) (json.Token, error) {
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
		if strings.Count(s, "\uFFFD") > oracleReplacements(raw) {
			return nil, d.fail(path, "lone UTF-16 surrogate escape")
		}
	}
	return tok, nil
}

// oracleReplacements counts the U+FFFD that a raw string token spells out,
// literally or as a \uFFFD escape; any more in the decoded string came
// from a lone surrogate. The decoder this oracle preserves counted every
// `\ufffd` substring, so the text `\\ufffd` (an escaped backslash, then
// "ufffd") hid a lone surrogate beside it: {"a":"\ud800\\ufffd"} was
// accepted. Here an escape counts only where its backslash starts one.
func oracleReplacements(raw []byte) int {
	n := 0
	for i := 0; i < len(raw); {
		switch {
		case raw[i] == '\\' && i+6 <= len(raw) && raw[i+1] == 'u' && strings.EqualFold(string(raw[i+2:i+6]), "fffd"):
			n++
			i += 6
		case raw[i] == '\\':
			i += 2 // a two-byte escape, or the \u of another code point
		case bytes.HasPrefix(raw[i:], []byte("\uFFFD")):
			n++
			i += len("\uFFFD")
		default:
			i++
		}
	}
	return n
}

// object reads the members of an object whose '{' has been read.
func (d *oracle) object(path string, depth int) (map[string]any, error) {
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
func (d *oracle) array(path string, depth int) ([]any, error) {
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
func (d *oracle) value(path string, depth int) (any, error) {
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
