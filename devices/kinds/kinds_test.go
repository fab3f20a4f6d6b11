package kinds

import (
	"encoding/json"
	"testing"
)

var plan = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["4","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`)

func groups(kv ...any) map[string]any {
	g := map[string]any{}
	for i := 0; i < len(kv); i += 3 {
		g[kv[i].(string)] = map[string]any{"state": kv[i+1], "since": float64(kv[i+2].(int))}
	}
	return map[string]any{"groups": g}
}

func TestParamsAndSimpleKinds(t *testing.T) {
	ts, _ := Lookup("traffic-signal")
	for _, bad := range []string{`{}`, `{"groups":["1"],"compatible":[["1","9"]],"min_yellow_ms":3000}`, `{"groups":["1","2"],"conflicts":[],"min_yellow_ms":3000}`, `{"groups":["1"],"min_yellow_ms":1000}`, `{"groups":["1"],"min_yellow_ms":3000,"extra":1}`} {
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
		{"air-quality", `{"pm25":12.5,"temp_c":-3,"units":{"pm25":"ug/m3"}}`, true},
		{"air-quality", `{"pm25":12.5,"temp_c":-3}`, false},  // no unit for pm25
		{"air-quality", `{"temp_c":-3,"humidity":80}`, true}, // no pollutant, no unit needed
		{"air-quality", `{"pm25":12.5,"units":{"pm10":"ug/m3"}}`, false},
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
