package strictjson

import (
	"encoding/json"
	"errors"
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
