package broker

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestWithConnection: the member is added to any object, and replaces one
// of the same name, exactly as decoding, setting and encoding would.
func TestWithConnection(t *testing.T) {
	since := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	st := ConnState{Connected: true, Since: &since, Remote: "192.0.2.7:4711"}
	for _, v := range []any{
		map[string]any{},
		map[string]any{"device": "sl-1", "reported": map[string]any{"level": 40.0}},
		map[string]any{"device": "sl-1", "connection": "forged"},
		struct {
			Device string `json:"device"`
			Note   string `json:"note"`
		}{"sl-2", `"connection": in a value`},
	} {
		got, err := withConnection(v, st)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		var gotObj, want map[string]any
		if err := json.Unmarshal(got, &gotObj); err != nil {
			t.Fatalf("%v: the result %s is not JSON: %v", v, got, err)
		}
		b, _ := json.Marshal(v)
		_ = json.Unmarshal(b, &want)
		c, _ := json.Marshal(st)
		var cv any
		_ = json.Unmarshal(c, &cv)
		want["connection"] = cv
		if !reflect.DeepEqual(gotObj, want) {
			t.Errorf("%v: got %s, want %v", v, got, want)
		}
	}
}
