package kinds

import (
	"encoding/json"
	"testing"

	"github.com/signet-city/signet/signing"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSensorRulesProbe: for every rule of the loop detector, streetlight
// and air-quality kinds, a report that breaks it is refused with
// invalid_state naming the field, and the honest report beside it passes.
func TestSensorRulesProbe(t *testing.T) {
	const rated = `{"rated_w":150,"standby_w":2,"tolerance_pct":10}`
	cases := []struct {
		name, kind, params, prev, next, field string // field "": accepted
	}{
		{"honest lanes", "loop-detector", "", `{}`, `{"interval_s":60,"lanes":{"1":{"count":20,"occupancy":15,"speed_kmh":50}}}`, ""},
		{"occupancy far above flow×length/speed", "loop-detector", "", `{}`, `{"interval_s":60,"lanes":{"1":{"count":20,"occupancy":90,"speed_kmh":50}}}`, "lanes.1.occupancy"},
		{"occupancy far below flow×length/speed", "loop-detector", "", `{}`, `{"interval_s":60,"lanes":{"1":{"count":50,"occupancy":1,"speed_kmh":20}}}`, "lanes.1.occupancy"},
		{"speed with no vehicle", "loop-detector", "", `{}`, `{"interval_s":60,"lanes":{"1":{"count":0,"occupancy":0,"speed_kmh":50}}}`, "lanes.1.speed_kmh"},
		{"standing vehicle, no count", "loop-detector", "", `{}`, `{"interval_s":60,"lanes":{"1":{"count":0,"occupancy":100}}}`, ""},
		{"more vehicles than a lane carries", "loop-detector", "", `{}`, `{"interval_s":10,"lanes":{"1":{"count":40}}}`, "lanes.1.count"},
		{"half a vehicle", "loop-detector", "", `{}`, `{"lanes":{"1":{"count":2.5}}}`, "lanes.1.count"},
		{"device writes the fault", "loop-detector", "", `{}`, `{"fault":{"reason":"x"}}`, "fault"},
		{"unknown health", "loop-detector", "", `{}`, `{"lanes":{"1":{"health":"fine"}}}`, "lanes.1.health"},

		{"honest power at level 100", "streetlight", rated, `{}`, `{"on":true,"level":100,"power_w":151}`, ""},
		{"2000 W at level 100", "streetlight", "", `{}`, `{"on":true,"level":100,"power_w":2000}`, "power_w"},
		{"power off but drawing", "streetlight", rated, `{}`, `{"on":false,"level":0,"power_w":80}`, "power_w"},
		{"level 0 drawing", "streetlight", "", `{}`, `{"level":0,"power_w":40}`, "power_w"},
		{"level 100 drawing nothing, healthy", "streetlight", rated, `{}`, `{"on":true,"level":100,"power_w":0}`, "power_w"},
		{"level 100 drawing nothing, lamp failed", "streetlight", rated, `{}`, `{"on":true,"level":100,"power_w":1,"health":"lamp"}`, ""},
		{"failed lamp drawing over its rating", "streetlight", rated, `{}`, `{"on":true,"level":100,"power_w":900,"health":"lamp"}`, "power_w"},
		{"schedule not HH:MM", "streetlight", "", `{}`, `{"schedule":{"on":"25:00","off":"06:00"}}`, "schedule.on"},
		{"honest schedule", "streetlight", "", `{}`, `{"schedule":{"on":"21:12","off":"04:40","level":100,"source":"dusk-to-dawn"}}`, ""},

		{"honest air", "air-quality", "", `{}`, `{"pm25":12,"pm10":20,"no2":18,"o3":30,"units":{"pm25":"ug/m3","pm10":"ug/m3","no2":"ppb","o3":"ppb"}}`, ""},
		{"PM2.5 above PM10", "air-quality", "", `{}`, `{"pm25":30,"pm10":20,"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`, "pm25"},
		{"no unit", "air-quality", "", `{}`, `{"no2":18,"units":{}}`, "units.no2"},
		{"wrong unit", "air-quality", "", `{}`, `{"no2":18,"units":{"no2":"ug/m3"}}`, "units.no2"},
		{"out of range", "air-quality", "", `{}`, `{"pm25":5000,"units":{"pm25":"ug/m3"}}`, "pm25"},
		{"pollutant without units", "air-quality", "", `{}`, `{"pm25":12,"temp_c":9}`, "units.pm25"},
		{"pollutant with its unit", "air-quality", "", `{}`, `{"pm25":12,"temp_c":9,"units":{"pm25":"ug/m3"}}`, ""},
		{"one unit of two missing", "air-quality", "", `{}`, `{"pm25":12,"o3":30,"units":{"pm25":"ug/m3"}}`, "units.o3"},
		// State is the merged twin: units stated in an earlier report are kept.
		{"units kept in the twin", "air-quality", "", `{"pm25":12,"units":{"pm25":"ug/m3"}}`, `{"pm25":14,"units":{"pm25":"ug/m3"}}`, ""},
		{"unit removed, pollutant kept", "air-quality", "", `{"pm25":12,"units":{"pm25":"ug/m3"}}`, `{"pm25":12,"units":{}}`, "units.pm25"},
		{"no pollutant, no unit", "air-quality", "", `{}`, `{"temp_c":9,"humidity":60,"status":"ok"}`, ""},
	}
	for _, c := range cases {
		p, _ := Lookup(c.kind)
		err := p.ValidateReported(json.RawMessage(c.params), obj(t, c.prev), obj(t, c.next))
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: honest report refused: %v", c.name, err)
			}
			continue
		}
		rej, ok := err.(*signing.Rejection)
		if !ok || rej.Reason != signing.ReasonInvalidState || rej.Field != c.field {
			t.Errorf("%s: %v, want invalid_state at %s", c.name, err, c.field)
		}
	}
}

// TestSensorTelemetryProbe: the streams that carry a kind's readings are
// checked as its state is, against the twin's reported state; other
// streams pass.
func TestSensorTelemetryProbe(t *testing.T) {
	lit := obj(t, `{"on":true,"level":100}`)
	cases := []struct {
		name, kind, stream string
		reported           map[string]any
		payload            string
		bad                bool
	}{
		{"honest traffic", "loop-detector", TrafficStream, nil, `{"interval_s":1,"lanes":{"1":{"count":1,"occupancy":40,"speed_kmh":50},"2":{"count":0,"occupancy":0}}}`, false},
		{"traffic at an impossible occupancy", "loop-detector", TrafficStream, nil, `{"interval_s":1,"lanes":{"1":{"count":1,"occupancy":2,"speed_kmh":50}}}`, true},
		{"traffic with speed and no count", "loop-detector", TrafficStream, nil, `{"interval_s":1,"lanes":{"1":{"count":0,"speed_kmh":50}}}`, true},
		{"traffic without interval", "loop-detector", TrafficStream, nil, `{"lanes":{"1":{"count":1}}}`, true},
		{"traffic with an unknown member", "loop-detector", TrafficStream, nil, `{"interval_s":1,"lanes":{},"x":1}`, true},
		{"traffic not strict JSON", "loop-detector", TrafficStream, nil, `{"interval_s":1,"interval_s":2,"lanes":{}}`, true},
		{"honest power", "streetlight", PowerStream, lit, `{"power_w":101}`, false},
		{"2000 W at level 100", "streetlight", PowerStream, lit, `{"power_w":2000}`, true},
		{"power before any state", "streetlight", PowerStream, nil, `{"power_w":36}`, false},
		{"honest air", "air-quality", AirStream, nil, `{"pm25":12,"pm10":20,"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`, false},
		{"air without units", "air-quality", AirStream, nil, `{"pm25":12,"pm10":20}`, true},
		{"air without units, the twin has them", "air-quality", AirStream, obj(t, `{"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`), `{"pm25":12,"pm10":20}`, true},
		{"air missing one unit", "air-quality", AirStream, nil, `{"pm25":12,"pm10":20,"units":{"pm25":"ug/m3"}}`, true},
		{"air without pollutants", "air-quality", AirStream, nil, `{"temp_c":9,"humidity":60}`, false},
		{"air with a wrong unit", "air-quality", AirStream, nil, `{"pm25":12,"pm10":20,"units":{"pm25":"mg/m3","pm10":"ug/m3"}}`, true},
		{"air with an unknown member", "air-quality", AirStream, nil, `{"pm25":12,"seq":1,"units":{"pm25":"ug/m3"}}`, true},
		{"another stream", "air-quality", "diag", nil, `not json`, false},
	}
	for _, c := range cases {
		err := CheckTelemetry(c.kind, nil, c.reported, c.stream, []byte(c.payload))
		if c.bad != (signing.ReasonOf(err) == signing.ReasonInvalidState) || (!c.bad && err != nil) {
			t.Errorf("%s: %v, want refused=%v", c.name, err, c.bad)
		}
	}
}

// TestDeviceHealthIsAFault: a lane or lamp reporting a failure is
// accepted and the state gains the fault; a healthy report clears it.
func TestDeviceHealthIsAFault(t *testing.T) {
	ld, _ := Lookup("loop-detector")
	next := obj(t, `{"status":"fault","lanes":{"1":{"health":"ok"},"2":{"health":"open-loop"}}}`)
	if err := ld.ValidateReported(nil, map[string]any{}, next); err != nil {
		t.Fatalf("a loop reporting its open loop was refused: %v", err)
	}
	f, _ := next[FaultField].(map[string]any)
	if f["reason"] != HealthOpenLoop || f["detail"] != "lane 2" {
		t.Fatalf("fault %v, want open-loop on lane 2", next[FaultField])
	}
	healed := obj(t, `{"status":"ok","lanes":{"1":{"health":"ok"},"2":{"health":"ok"}}}`)
	healed[FaultField] = next[FaultField] // as merged into the twin
	if err := ld.ValidateReported(nil, next, healed); err != nil || healed[FaultField] != nil {
		t.Fatalf("healthy report: %v, fault %v", err, healed[FaultField])
	}
	sl, _ := Lookup("streetlight")
	lamp := obj(t, `{"on":true,"level":100,"health":"lamp"}`)
	if err := sl.ValidateReported(nil, map[string]any{}, lamp); err != nil || lamp[FaultField] == nil {
		t.Fatalf("lamp failure: %v, fault %v", err, lamp[FaultField])
	}
}

// TestStreetlightParams: the rating is checked, defaults fill in, and
// unknown members are refused.
func TestStreetlightParams(t *testing.T) {
	sl, _ := Lookup("streetlight")
	for _, bad := range []string{`{"rated_w":5000}`, `{"tolerance_pct":90}`, `{"watts":100}`, `{"rated_w":100,"rated_w":200}`} {
		if sl.ValidateParams(json.RawMessage(bad)) == nil {
			t.Errorf("params %s accepted", bad)
		}
	}
	p, err := ParseStreetlightParams(nil)
	if err != nil || p.RatedW != DefaultRatedW || p.StandbyW != DefaultStandbyW || p.TolerancePct != DefaultTolerancePct {
		t.Fatalf("defaults: %+v %v", p, err)
	}
}

// TestCheckCommandModes: the mode rules of CheckCommand on their own
// (the catalogue refuses an unknown plan first; this is the kind's rule).
func TestCheckCommandModes(t *testing.T) {
	ts, _ := Lookup("traffic-signal")
	params := json.RawMessage(`{"groups":["2","4"],"compatible":[],"min_yellow_ms":4000,"plans":{"am":[["2"],["4"]]}}`)
	fault := map[string]any{"mode": "flash", FaultField: map[string]any{"reason": "conflict"}}
	for _, c := range []struct {
		reported, desired map[string]any
		ok                bool
	}{
		{fault, map[string]any{"mode": ModeNormal}, false},
		{fault, map[string]any{"mode": ModeFlash}, true},
		{map[string]any{}, map[string]any{"mode": ModeNormal}, true},
		{map[string]any{}, map[string]any{"plan": "pm"}, false},
		{map[string]any{}, map[string]any{"plan": "am"}, true},
		{map[string]any{}, map[string]any{"plan": DefaultPlanName}, true},
	} {
		if err := CheckCommand(ts, params, c.reported, c.desired); (err == nil) != c.ok {
			t.Errorf("%v on %v: %v, want ok=%v", c.desired, c.reported, err, c.ok)
		}
	}
	// A reported plan the controller does not have is impossible.
	if err := ts.ValidateReported(params, map[string]any{}, map[string]any{"plan": "pm"}); signing.ReasonOf(err) != signing.ReasonInvalidState {
		t.Errorf("reported plan pm: %v", err)
	}
	if err := ts.ValidateReported(params, map[string]any{}, map[string]any{"plan": "am"}); err != nil {
		t.Errorf("reported plan am: %v", err)
	}
}

// TestLoopDetectorParams: a site's params set the length range and the
// tolerance the occupancy is judged with; bad params are refused.
func TestLoopDetectorParams(t *testing.T) {
	ld, _ := Lookup("loop-detector")
	for _, bad := range []string{`{"eff_length_min_m":30,"eff_length_max_m":10}`, `{"occupancy_tolerance":80}`, `{"length":5}`} {
		if ld.ValidateParams(json.RawMessage(bad)) == nil {
			t.Errorf("params %s accepted", bad)
		}
	}
	// 20 vehicles a minute at 50 km/h over 15 m each: 36 %.
	long := `{"interval_s":60,"lanes":{"1":{"count":20,"occupancy":36,"speed_kmh":50}}}`
	if err := ld.ValidateReported(nil, map[string]any{}, obj(t, long)); err != nil {
		t.Fatalf("default params: %v", err)
	}
	cars := json.RawMessage(`{"eff_length_min_m":4,"eff_length_max_m":8,"occupancy_tolerance":2}`)
	if err := ld.ValidateReported(cars, map[string]any{}, obj(t, long)); signing.ReasonOf(err) != signing.ReasonInvalidState {
		t.Fatalf("a cars-only site took 15 m vehicles: %v", err)
	}
	if err := CheckTelemetry("loop-detector", cars, nil, TrafficStream, []byte(long)); signing.ReasonOf(err) != signing.ReasonInvalidState {
		t.Fatalf("telemetry at a cars-only site: %v", err)
	}
}

// TestTelemetryChecksShareNoMembers: the maps telemetry is read into are
// reused, and a reading never sees a member of the one before it.
func TestTelemetryChecksShareNoMembers(t *testing.T) {
	for i := range 50 {
		if err := CheckTelemetry("air-quality", nil, nil, AirStream, []byte(`{"pm25":12,"pm10":20,"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`)); err != nil {
			t.Fatalf("round %d, with units: %v", i, err)
		}
		if err := CheckTelemetry("air-quality", nil, nil, AirStream, []byte(`{"pm25":12,"pm10":20}`)); signing.ReasonOf(err) != signing.ReasonInvalidState {
			t.Fatalf("round %d, without units: %v, want refused", i, err)
		}
	}
}

func BenchmarkCheckTelemetryPower(b *testing.B) {
	lit := map[string]any{"on": true, "level": 100.0}
	payload := []byte(`{"power_w":101.5}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckTelemetry("streetlight", nil, lit, PowerStream, payload); err != nil {
			b.Fatal(err)
		}
	}
}
