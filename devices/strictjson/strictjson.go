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
//
// It is a single pass over the input's bytes, because it runs on every
// message a device kind checks; its grammar, its values and its syntax
// error messages are encoding/json's, which the package's fuzz target
// holds it to.
package strictjson

import "fmt"

// DefaultMaxDepth is the nesting bound when a caller gives none: far more
// than any device profile uses (two or three levels), small enough that a
// hostile document cannot make a reader recurse deeply.
const DefaultMaxDepth = 32

// Error is a refusal, naming where in the document it happened.
type Error struct {
	Path string // JSON path of the offending member, "" for the document itself
	// Offset is the byte offset in the input of what was refused: the
	// unexpected byte; len(input) when the input ended early; the first
	// byte of trailing data; the opening quote of a duplicate name; the
	// first invalid UTF-8 byte; the backslash of a lone surrogate escape;
	// the first byte of a number out of range or of a value that is not an
	// object; the bracket that opened a level past the depth bound.
	Offset int64
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
	obj := map[string]any{}
	if err := DecodeObjectInto(obj, b, maxDepth); err != nil {
		return nil, err
	}
	return obj, nil
}

// DecodeObjectInto is DecodeObject reading the top object's members into
// out, which must be empty, for a caller that reads many documents only to
// check them and reuses one map for all (clear(out) after each). Nested
// objects are new maps, as in DecodeObject. On error out holds part of the
// document.
func DecodeObjectInto(out map[string]any, b []byte, maxDepth int) error {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	d := decoder{src: b, maxDepth: maxDepth}
	if f := d.document(out); f != nil {
		return f.err()
	}
	return nil
}

// decoder reads src from pos on.
type decoder struct {
	src      []byte
	pos      int
	maxDepth int
	buf      []byte // scratch for strings with escapes, reused
}

// document reads the whole input, one object and nothing after it, into
// out.
func (d *decoder) document(out map[string]any) *failure {
	if !d.skipSpace() {
		return d.end()
	}
	start := d.pos
	switch d.src[start] {
	case '{':
		// The top object is depth 1 and maxDepth is at least 1.
	case '[':
		return failAt(start, "must be a JSON object")
	default:
		// A scalar is read first, so that a broken one is refused for what
		// is wrong inside it, as encoding/json would.
		if _, f := d.scalar(); f != nil {
			return f
		}
		return failAt(start, "must be a JSON object")
	}
	if _, f := d.objectInto(out, 1); f != nil {
		return f
	}
	if d.skipSpace() {
		return failAt(d.pos, "trailing data after the object")
	}
	return nil
}

// value reads the value at d.pos (whitespace skipped, not at the end), a
// member's or an element's of a container at depth.
func (d *decoder) value(depth int) (any, *failure) {
	switch d.src[d.pos] {
	case '{':
		// The bound is checked before recursing, so a hostile run of
		// brackets costs no stack beyond it.
		if depth+1 > d.maxDepth {
			return nil, d.tooDeep()
		}
		return d.object(depth + 1)
	case '[':
		if depth+1 > d.maxDepth {
			return nil, d.tooDeep()
		}
		return d.array(depth + 1)
	}
	return d.scalar()
}

// tooDeep refuses the container opening at d.pos.
func (d *decoder) tooDeep() *failure {
	return failAt(d.pos, fmt.Sprintf("nested deeper than %d levels", d.maxDepth))
}

// object reads the object whose '{' is at d.pos, at depth. Failures in a
// member's name, or between members, are the object's own; from the name's
// end to its value's end they are the member's.
func (d *decoder) object(depth int) (map[string]any, *failure) {
	return d.objectInto(map[string]any{}, depth)
}

// objectInto is object with its members read into out.
func (d *decoder) objectInto(out map[string]any, depth int) (map[string]any, *failure) {
	d.pos++
	if !d.skipSpace() {
		return nil, d.end()
	}
	switch d.src[d.pos] {
	case '}':
		d.pos++
		return out, nil
	case '"':
	default:
		// encoding/json's Token gives no context at the first name.
		return nil, d.syntax("")
	}
	for {
		open := d.pos
		name, f := d.str()
		if f != nil {
			return nil, f
		}
		if _, dup := out[name]; dup {
			return nil, failAt(open, "duplicate member name").in(name)
		}
		v, f := d.member(depth)
		if f != nil {
			return nil, f.in(name)
		}
		out[name] = v
		if !d.skipSpace() {
			return nil, d.end()
		}
		switch d.src[d.pos] {
		case '}':
			d.pos++
			return out, nil
		case ',':
		default:
			return nil, d.syntax(" after object key:value pair")
		}
		d.pos++
		if !d.skipSpace() {
			return nil, d.end()
		}
		if d.src[d.pos] != '"' {
			return nil, d.syntax(" looking for beginning of object key string")
		}
	}
}

// member reads the colon after a member's name and the member's value.
func (d *decoder) member(depth int) (any, *failure) {
	if !d.skipSpace() {
		return nil, d.end()
	}
	if d.src[d.pos] != ':' {
		return nil, d.syntax(" after object key")
	}
	d.pos++
	if !d.skipSpace() {
		return nil, d.end()
	}
	return d.value(depth)
}

// array reads the array whose '[' is at d.pos, at depth. A failure from a
// comma on is element i's, as encoding/json's Token reads the comma with
// the element; the end of input or a misplaced '}' after an element is
// the array's.
func (d *decoder) array(depth int) ([]any, *failure) {
	d.pos++
	out := []any{} // not nil: encoding/json gives [] for an empty array
	if !d.skipSpace() {
		return nil, d.end()
	}
	switch d.src[d.pos] {
	case ']':
		d.pos++
		return out, nil
	case '}':
		return nil, d.syntax(" looking for beginning of value")
	}
	for i := 0; ; i++ {
		v, f := d.value(depth)
		if f != nil {
			return nil, f.at(i)
		}
		out = append(out, v)
		if !d.skipSpace() {
			return nil, d.end()
		}
		switch d.src[d.pos] {
		case ']':
			d.pos++
			return out, nil
		case '}':
			return nil, d.syntax(" after array element")
		case ',':
		default:
			return nil, d.syntax(" after array element").at(i + 1)
		}
		d.pos++
		if !d.skipSpace() {
			return nil, d.end().at(i + 1)
		}
	}
}

// skipSpace moves past RFC 8259 §2 whitespace and reports whether a byte
// follows.
func (d *decoder) skipSpace() bool {
	for d.pos < len(d.src) {
		switch d.src[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return true
		}
	}
	return false
}
