package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeObjectRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	cases := []struct {
		name, in, path, msg string
	}{
		{"duplicate top level", `{"level":500,"level":10}`, "level", "duplicate member name"},
		{"duplicate by escape", `{"level":500,"\u006cevel":10}`, "level", "duplicate member name"},
		{"duplicate nested", `{"groups":{"2":{"state":"red","state":"green"}}}`, "groups.2.state", "duplicate member name"},
		{"duplicate in array", `{"a":[{"x":1},{"x":1,"x":2}]}`, "a[1].x", "duplicate member name"},
		{"trailing object", `{}{}`, "", "trailing data"},
		{"trailing garbage", `{"a":1} x`, "", "trailing data"},
		{"not an object", `[1]`, "", "must be a JSON object"},
		{"null", `null`, "", "must be a JSON object"},
		{"empty", ``, "", "unexpected end of input"},
		{"truncated", `{"mode":`, "mode", "unexpected end of input"},
		{"invalid UTF-8 in value", "{\"plan\":\"a\xffb\"}", "plan", "invalid UTF-8"},
		{"invalid UTF-8 in name", "{\"a\":{\"\xc3\":1}}", "a", "invalid UTF-8"},
		{"lone surrogate", `{"plan":"\ud800"}`, "plan", "lone UTF-16 surrogate"},
		// The Token-based decoder miscounted `\\ufffd` (an escaped backslash) as
		// a spelt-out U+FFFD and let the lone surrogate beside it through.
		{"lone surrogate beside an escaped backslash", `{"plan":"\ud800\\ufffd"}`, "plan", "lone UTF-16 surrogate"},
		{"too deep", deep, strings.TrimSuffix(strings.Repeat("a.", DefaultMaxDepth), "."), "nested deeper than 32"},
		{"deep arrays", `{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "a" + strings.Repeat("[0]", DefaultMaxDepth-1), "nested deeper than 32"},
	}
	for _, c := range cases {
		_, err := DecodeObject([]byte(c.in), 0)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an *Error", c.name, err)
			continue
		}
		if e.Path != c.path || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("%s: got path %q msg %q, want path %q msg containing %q", c.name, e.Path, e.Msg, c.path, c.msg)
		}
	}
}

func TestDecodeObjectAccepts(t *testing.T) {
	for _, in := range []string{
		`{}`,
		` {"on":true,"level":40,"plan":"weekday-am","x":null} `,
		`{"groups":{"2":{"state":"green","since":1700000000000}},"list":[1,"a",[],{}]}`,
		`{"a":"\ufffd literal and escaped �","b":"\ud83d\ude00 pair"}`,
		`{"a":{"x":1},"b":{"x":2}}`, // the same name in sibling objects is no duplicate
		strings.Repeat(`{"a":`, DefaultMaxDepth-1) + "{}" + strings.Repeat("}", DefaultMaxDepth-1),
	} {
		got, err := DecodeObject([]byte(in), 0)
		if err != nil {
			t.Errorf("%s: refused: %v", in, err)
			continue
		}
		var want map[string]any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, encoding/json %#v", in, got, want)
		}
	}
}

func TestDecodeObjectDepthOption(t *testing.T) {
	if _, err := DecodeObject([]byte(`{"a":{"b":{}}}`), 2); err == nil {
		t.Error("depth 3 accepted with a bound of 2")
	}
	if _, err := DecodeObject([]byte(`{"a":{"b":1}}`), 2); err != nil {
		t.Errorf("depth 2 refused with a bound of 2: %v", err)
	}
}

func TestErrorPathIsBounded(t *testing.T) {
	long := strings.Repeat("k", 60<<10)
	_, err := DecodeObject([]byte(`{"`+long+`":1,"`+long+`":2}`), 0)
	if err == nil || len(err.Error()) > 256 {
		t.Fatalf("got %d bytes of error: %.80v", len(err.Error()), err)
	}
}

// TestDecodeObjectOffsets walks the refusals the scanner finds itself,
// checking the path, the message and the byte Offset points at.
func TestDecodeObjectOffsets(t *testing.T) {
	cases := []struct {
		in, path, msg string
		offset        int64
	}{
		{`{"a":1,"a":2}`, "a", "duplicate member name", 7},
		{`{"a":1} x`, "", "trailing data after the object", 8},
		{` [1]`, "", "must be a JSON object", 1},
		{`"x"`, "", "must be a JSON object", 0},
		{`{"a":[1,`, "a[1]", "unexpected end of input", 8},
		{`{"a":[1 2]}`, "a[1]", "not JSON: invalid character '2' after array element", 8},
		{`{"a":[1}`, "a", "not JSON: invalid character '}' after array element", 7},
		{`{"a":[1,]}`, "a[1]", "not JSON: invalid character ']' looking for beginning of value", 8},
		{`{]`, "", "not JSON: invalid character ']'", 1},
		{`{"a":1,}`, "", "not JSON: invalid character '}' looking for beginning of object key string", 7},
		{`{"a" 1}`, "a", "not JSON: invalid character '1' after object key", 5},
		{`{"a":1 "b":2}`, "", `not JSON: invalid character '"' after object key:value pair`, 7},
		{`{"a":01}`, "", "not JSON: invalid character '1' after object key:value pair", 6},
		{`{"a":-x}`, "a", "not JSON: invalid character 'x' in numeric literal", 6},
		{`{"a":1.}`, "a", "not JSON: invalid character '}' after decimal point in numeric literal", 7},
		{`{"a":1e+}`, "a", "not JSON: invalid character '}' in exponent of numeric literal", 8},
		{`{"a":1e400}`, "a", "number out of float64 range", 5},
		{`{"a":nul}`, "a", "not JSON: invalid character '}' in literal null (expecting 'l')", 8},
		{`{"a":"\q"}`, "a", "not JSON: invalid character 'q' in string escape code", 7},
		{`{"a":"\u00g0"}`, "a", `not JSON: invalid character 'g' in \u hexadecimal character escape`, 10},
		{"{\"a\":\"x\ny\"}", "a", `not JSON: invalid character '\n' in string literal`, 7},
		{"{\"a\":\"ok\xffok\"}", "a", "invalid UTF-8", 8},
		{`{"a":"ok\udc00"}`, "a", "lone UTF-16 surrogate escape", 8},
		{"\xef\xbb\xbf{}", "", "not JSON: invalid character 'ï' looking for beginning of value", 0},
		{`{"a":{"b":{}}}`, "a.b", "nested deeper than 2 levels", 10},
	}
	for _, c := range cases {
		_, err := DecodeObject([]byte(c.in), 2)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an *Error", c.in, err)
			continue
		}
		if e.Path != c.path || e.Msg != c.msg || e.Offset != c.offset {
			t.Errorf("%s: got path %q msg %q offset %d, want %q %q %d", c.in, e.Path, e.Msg, e.Offset, c.path, c.msg, c.offset)
		}
	}
}

// TestDecodeObjectHostileNesting: a megabyte of '[' is refused at the
// bound, however high a caller sets it, without recursing past it.
func TestDecodeObjectHostileNesting(t *testing.T) {
	for _, c := range []struct{ bound, levels int }{{0, DefaultMaxDepth}, {1000, 1000}} {
		in := []byte(`{"a":` + strings.Repeat("[", 1<<20))
		_, err := DecodeObject(in, c.bound)
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Msg, "nested deeper than") {
			t.Fatalf("bound %d: got %v, want a depth refusal", c.bound, err)
		}
		// The top object is level 1 and the '[' at byte 5 level 2, so the
		// first level too many opens at byte 5+levels-1.
		if want := int64(4 + c.levels); e.Offset != want {
			t.Errorf("bound %d: refused at byte %d, want %d", c.bound, e.Offset, want)
		}
	}
}

// TestDecodeObjectNumbers: the integer shortcut and ParseFloat agree with
// encoding/json on the sign of zero and on the edges of exactness.
func TestDecodeObjectNumbers(t *testing.T) {
	for _, n := range []string{"0", "-0", "-0.0", "0e0", "999999999999999", "-999999999999999",
		"9007199254740993", "1E+2", "0.1", "5e-324", "1e-400", "123456789012345678901234567890"} {
		in := []byte(`{"n":` + n + `}`)
		got, err := DecodeObject(in, 0)
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		var want map[string]any
		if err := json.Unmarshal(in, &want); err != nil {
			t.Fatal(err)
		}
		if !identical(got, want) {
			t.Errorf("%s: got %v, encoding/json %v", n, got["n"], want["n"])
		}
	}
	m, _ := DecodeObject([]byte(`{"n":-0}`), 0)
	if f, _ := m["n"].(float64); f != 0 || !math.Signbit(f) {
		t.Errorf("-0 decoded as %v", m["n"])
	}
}

// TestDecodeObjectIntoAReusedMap: one map, cleared between documents,
// reads each as DecodeObject does, accepted or refused.
func TestDecodeObjectIntoAReusedMap(t *testing.T) {
	reused := map[string]any{}
	for _, doc := range fuzzSeeds {
		want, werr := DecodeObject([]byte(doc), 8)
		err := DecodeObjectInto(reused, []byte(doc), 8)
		if fmt.Sprint(err) != fmt.Sprint(werr) || werr == nil && !identical(reused, want) {
			t.Errorf("%q: %v %#v, want %v %#v", doc, err, reused, werr, want)
		}
		clear(reused)
	}
}
