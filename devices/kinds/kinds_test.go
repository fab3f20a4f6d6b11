package kinds

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/signet-city/signet/signing"
)

var plan = json.RawMessage(`{"groups":["2","4","6","8"],"conflicts":[["2","4"],["2","8"],["6","4"],["6","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`)

func groups(kv ...any) map[string]any {
	g := map[string]any{}
	for i := 0; i < len(kv); i += 3 {
		g[kv[i].(string)] = map[string]any{"state": kv[i+1], "since": float64(kv[i+2].(int))}
	}
	return map[string]any{"groups": g}
}

func TestTrafficSignalRules(t *testing.T) {
	p, _ := Lookup("traffic-signal")
	base := groups("2", "green", 1000, "4", "red", 1000)
	cases := []struct {
		name       string
		prev, next map[string]any
		field      string // "" = valid
	}{
		{"first report", map[string]any{}, base, ""},
		{"green to yellow", base, groups("2", "yellow", 20000, "4", "red", 1000), ""},
		{"conflicting greens", map[string]any{}, groups("2", "green", 1000, "4", "green", 1000), "groups"},
		{"green and conflicting yellow", map[string]any{}, groups("2", "green", 1000, "4", "yellow", 1000), "groups"},
		{"green straight to red", base, groups("2", "red", 20000, "4", "red", 1000), "groups.2"},
		{"short yellow", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "red", 3000, "4", "red", 1000), "groups.2"},
		{"long yellow", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "red", 7000, "4", "red", 1000), ""},
		{"yellow exactly min_yellow", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "red", 5000, "4", "red", 1000), ""},
		{"yellow 1 ms short", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "red", 4999, "4", "red", 1000), "groups.2"},
		{"yellow back to green", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "green", 9000, "4", "red", 1000), "groups.2"},
		{"yellow to dark", groups("2", "yellow", 1000, "4", "red", 1000), groups("2", "dark", 9000, "4", "red", 1000), "groups.2"},
		{"green to dark", base, groups("2", "dark", 20000, "4", "red", 1000), "groups.2"},
		{"green before red clearance", groups("2", "red", 5000, "4", "red", 1000), groups("2", "red", 5000, "4", "green", 5500), "groups.4"},
		{"green after red clearance", groups("2", "red", 5000, "4", "red", 1000), groups("2", "red", 5000, "4", "green", 6000), ""},
		{"time goes back", base, groups("2", "yellow", 500, "4", "red", 1000), "groups.2.since"},
		{"unknown group", map[string]any{}, groups("9", "red", 1), "groups.9"},
		{"unknown state", map[string]any{}, groups("2", "purple", 1), "groups.2.state"},
		{"unknown field", map[string]any{}, map[string]any{"colour": "x"}, "colour"},
		{"flash mode skips sequence rules", base, map[string]any{"mode": "flash", "groups": groups("2", "red", 2000)["groups"]}, ""},
	}
	for _, c := range cases {
		err := p.ValidateReported(plan, c.prev, c.next)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.name, err)
			}
			continue
		}
		var rej *signing.Rejection
		if !errors.As(err, &rej) || rej.Reason != signing.ReasonInvalidState || rej.Field != c.field {
			t.Errorf("%s: got %v, want invalid_state at %q", c.name, err, c.field)
		}
	}
}

func TestParamsAndSimpleKinds(t *testing.T) {
	ts, _ := Lookup("traffic-signal")
	for _, bad := range []string{`{}`, `{"groups":["1"],"conflicts":[["1","9"]],"min_yellow_ms":3000}`, `{"groups":["1"],"min_yellow_ms":1000}`, `{"groups":["1"],"min_yellow_ms":3000,"extra":1}`} {
		if ts.ValidateParams(json.RawMessage(bad)) == nil {
			t.Errorf("traffic-signal params %s accepted", bad)
		}
	}
	if err := ts.ValidateParams(plan); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind  string
		state string
		ok    bool
	}{
		{"streetlight", `{"on":true,"level":40,"power_w":36}`, true},
		{"streetlight", `{"level":140}`, false},
		{"streetlight", `{"on":"yes"}`, false},
		{"air-quality", `{"pm25":12.5,"temp_c":-3}`, true},
		{"air-quality", `{"pm25":-1}`, false},
		{"loop-detector", `{"lanes":{"1":{"count":12,"occupancy":30,"speed_kmh":45}}}`, true},
		{"loop-detector", `{"lanes":{"1":{"occupancy":130}}}`, false},
		{"loop-detector", `{"lanes":{"1":{"colour":1}}}`, false},
	}
	for _, c := range cases {
		p, ok := Lookup(c.kind)
		if !ok {
			t.Fatalf("kind %s missing", c.kind)
		}
		var next map[string]any
		json.Unmarshal([]byte(c.state), &next)
		if err := p.ValidateReported(nil, nil, next); (err == nil) != c.ok {
			t.Errorf("%s %s: err %v, want ok=%v", c.kind, c.state, err, c.ok)
		}
		if p.ValidateParams(json.RawMessage(`{"x":1}`)) == nil {
			t.Errorf("%s accepts params", c.kind)
		}
	}
	if _, ok := Lookup("toaster"); ok || len(Kinds()) != 4 {
		t.Fatal("Lookup/Kinds")
	}
}
