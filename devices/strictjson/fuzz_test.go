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

// fuzzSeeds are the inputs where a hand-written JSON scanner most easily
// parts from encoding/json.
var fuzzSeeds = []string{
	`{}`, `{"a":1,"a":2}`, `{"a":[{"b":"\ud800"}]}`, `{"x":{"y":null}} `, "{\"\xff\":1}", `{"a":1}{}`,
	// Escapes and surrogates.
	`{"a":"\"\\\/\b\f\n\r\t"}`, `{"a":"\u0000\u001f\u007F\u00e9\uFFFF"}`,
	`{"a":"\ud83d\ude00"}`, `{"a":"\uD83D\uDE00x"}`, `{"a":"\ude00\ud83d"}`, `{"a":"\ud83d\u0041"}`,
	`{"a":"\ud83d\ud83d\ude00"}`, `{"a":"\ud83d"}`, `{"a":"\udfff"}`, `{"a":"\ud800\\ufffd"}`,
	`{"a":"\ud800\ufffd"}`, `{"a":"\ufffd"}`, "{\"a\":\"\uFFFD\"}", `{"a":"\u12"}`, `{"a":"\u12g4"}`,
	`{"a":"\x"}`, `{"a":"\`, `{"a":"\u`, "{\"a\":\"tab\tin\"}", "{\"a\":\"nul\x00\"}", "{\"a\":\"\xed\xa0\x80\"}",
	"{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", "{\"a\":\"\xff\\q\"}", "{\"a\":\"\xf4\x90\x80\x80\"}",
	// Numbers at the edges.
	`{"a":-0}`, `{"a":-0.0}`, `{"a":1E+2}`, `{"a":0.0e-0}`, `{"a":1e309}`, `{"a":-1e309}`, `{"a":1e-400}`,
	`{"a":4e-324}`, `{"a":1.7976931348623157e308}`, `{"a":1.7976931348623159e308}`,
	`{"a":123456789012345}`, `{"a":1234567890123456}`, `{"a":9007199254740993}`, `{"a":-999999999999999}`,
	`{"a":123456789012345678901234567890}`, `{"a":01}`, `{"a":+1}`, `{"a":.5}`, `{"a":1.}`, `{"a":1.e3}`,
	`{"a":1e}`, `{"a":1e+}`, `{"a":-}`, `{"a":--1}`, `{"a":0x10}`, `{"a":1_000}`, `{"a":NaN}`, `{"a":Infinity}`,
	`{"a":[1 2]}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":[1}`, `{"a":[}`, `{"a":1`, `{"a":1.5`, `{"a":-`,
	// Literals.
	`{"a":true,"b":false,"c":null}`, `{"a":tru}`, `{"a":nul}`, `{"a":fals`, `{"a":truex}`, `{"a":True}`,
	// Structure.
	`{"a" 1}`, `{"a":}`, `{"a"::1}`, `{"a":1,}`, `{"a":1 "b":2}`, `{]`, `{1:2}`, `{,}`, `{:}`, `{"a":1]`,
	`{"a"}`, `{"a",1}`, `{"a":{"b":{}}`, `[]`, `[{}]`, `"str"`, `1`, `1e400`, `]`, `}`, `nul`, `{"":{"":1,"":2}}`,
	`{"":[1 2]}`, `{"a.b":{"c":[{"d":[1,{"e":1,"e":2}]}]}}`,
	// Deep nesting, past the fuzz target's bound of 8.
	strings.Repeat(`{"a":`, 9) + "1" + strings.Repeat("}", 9),
	`{"a":` + strings.Repeat("[", 20) + strings.Repeat("]", 20) + `}`,
	strings.Repeat(`{"a":`, 7) + "[]" + strings.Repeat("}", 7),
	// BOM, NUL bytes, whitespace.
	"\xef\xbb\xbf{}", "{}\x00", "\x00{}", "{\"a\x00\":1}", " \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n1 \t\r\n} \t\r\n",
	"\f{}", "{}\v", "\u00a0{}", "{\"a\":1}\n\n", "",
	// Duplicate names spelt differently.
	`{"level":1,"\u006cevel":2}`, `{"\u00e9":1,"é":2}`, `{"\ud83d\ude00":1,"😀":2}`, `{"a\/b":1,"a/b":2}`,
	`{"a":{"x":1},"b":{"x":1}}`,
}

// FuzzDecodeObject holds DecodeObject to the Token-based decoder it
// replaced (oracleDecodeObject) and to encoding/json: both decoders must
// accept and refuse the same inputs, refuse them at the same path with the
// same message, and accept exactly what encoding/json reads the same way.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeObject(b, 8)
		into := map[string]any{}
		if ierr := DecodeObjectInto(into, b, 8); fmt.Sprint(ierr) != fmt.Sprint(err) || err == nil && !identical(into, got) {
			t.Fatalf("DecodeObjectInto: %v %#v, DecodeObject: %v %#v", ierr, into, err, got)
		}
		want, oerr := oracleDecodeObject(b, 8)
		if (err == nil) != (oerr == nil) {
			t.Fatalf("DecodeObject: %v, the oracle: %v", err, oerr)
		}
		if err != nil {
			var e, o *Error
			if !errors.As(err, &e) || !errors.As(oerr, &o) {
				t.Fatalf("errors of types %T and %T: %v, %v", err, oerr, err, oerr)
			}
			if e.Path != o.Path || e.Msg != o.Msg && !outOfRange(e, o) {
				t.Fatalf("DecodeObject: path %q msg %q, the oracle: path %q msg %q", e.Path, e.Msg, o.Path, o.Msg)
			}
			if e.Offset < 0 || e.Offset > int64(len(b)) {
				t.Fatalf("offset %d outside the %d-byte input", e.Offset, len(b))
			}
			return
		}
		if !identical(got, want) {
			t.Fatalf("got %#v, the oracle %#v", got, want)
		}
		var std map[string]any
		if err := json.Unmarshal(b, &std); err != nil {
			t.Fatalf("accepted what encoding/json refuses: %v", err)
		}
		if !identical(got, std) {
			t.Fatalf("got %#v, encoding/json %#v", got, std)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeObject(again, 8); err != nil {
			t.Fatalf("refused its own re-encoding %s: %v", again, err)
		}
	})
}

// outOfRange reports the one message the decoders word differently: the
// oracle says only "not JSON" for a number beyond float64 (encoding/json
// reports it as an UnmarshalTypeError, not a SyntaxError), which is wrong
// about valid JSON, so DecodeObject names the problem.
func outOfRange(e, oracle *Error) bool {
	return oracle.Msg == "not JSON" && e.Msg == "number out of float64 range"
}

// identical is reflect.DeepEqual but for telling -0 from 0.
func identical(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !identical(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if !identical(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
