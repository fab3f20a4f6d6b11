package kinds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/strictjson"
)

// Loop detector consistency (docs/device-kinds.md). For steady traffic
// over an inductive loop, occupancy = flow × effective vehicle length /
// space-mean speed (the fundamental relation of traffic flow; the
// effective length is the vehicle's plus the loop's detection zone). A
// lane report is refused (invalid_state) when its occupancy lies outside
// what any effective length in the params' range gives, with their
// tolerance in percentage points for rounding and uneven arrivals. These
// are the defaults.
const (
	EffLengthMinM      = 3.0  // a small car over a short loop
	EffLengthMaxM      = 20.0 // an articulated bus or lorry over a 2 m loop
	OccupancyTolerance = 5.0  // percentage points
	// MaxFlowPerLaneS bounds a lane's count: 1.5 vehicles a second is
	// 5400 an hour, far above a lane's saturation flow of about 1900.
	MaxFlowPerLaneS = 1.5
)

// Detector health, as NTCIP 1202 reports a vehicle detector's alarms
// (vehicleDetectorAlarms: no activity, max presence, erratic output, open
// loop, shorted loop). Anything but ok is a fault.
const (
	HealthOK          = "ok"
	HealthNoActivity  = "no-activity"
	HealthMaxPresence = "max-presence"
	HealthErratic     = "erratic-count"
	HealthOpenLoop    = "open-loop"
	HealthShortedLoop = "shorted-loop"
)

var laneFields = fields{
	"count":     {typ: "number", min: 0, max: 100_000},
	"occupancy": {typ: "number", min: 0, max: 100}, // percent of the interval
	"speed_kmh": {typ: "number", min: 0, max: 250}, // space-mean speed
	"health":    {typ: "string", enum: []string{HealthOK, HealthNoActivity, HealthMaxPresence, HealthErratic, HealthOpenLoop, HealthShortedLoop}},
}

var loopDetectorFields = fields{
	"interval_s": {typ: "number", min: 1, max: 3600},
	"lanes":      {typ: "object", dynamic: true, sub: laneFields},
	"status":     {typ: "string", enum: []string{"ok", "fault"}},
	// Asked for by the recalibrate command (devices/catalog); a desired
	// value only, which the detector acknowledges with an event.
	"calibration": {typ: "string", enum: []string{"requested"}},
	FaultField:    faultFields,
}

// loopDetectorKind validates a loop detector's state and its traffic
// telemetry (the same lane records).
type loopDetectorKind struct{}

var loopDetector = loopDetectorKind{}

func (loopDetectorKind) Kind() string     { return "loop-detector" }
func (loopDetectorKind) fieldSet() fields { return loopDetectorFields }

func (loopDetectorKind) ValidateParams(params json.RawMessage) error {
	_, err := ParseLoopDetectorParams(params)
	return err
}

// LoopDetectorParams are a detector site's occupancy rule (all optional):
//
//	{"eff_length_min_m": 3, "eff_length_max_m": 20, "occupancy_tolerance": 5}
//
// A site with long loops or mostly lorries widens the range.
type LoopDetectorParams struct {
	EffLengthMinM      float64 `json:"eff_length_min_m,omitempty"`
	EffLengthMaxM      float64 `json:"eff_length_max_m,omitempty"`
	OccupancyTolerance float64 `json:"occupancy_tolerance,omitempty"`
}

// ParseLoopDetectorParams decodes params strictly (absent: the defaults)
// and fills in the defaults.
func ParseLoopDetectorParams(raw json.RawMessage) (LoopDetectorParams, error) {
	var p LoopDetectorParams
	if err := decodeParams("loop-detector", raw, &p); err != nil {
		return p, err
	}
	if p.EffLengthMinM == 0 {
		p.EffLengthMinM = EffLengthMinM
	}
	if p.EffLengthMaxM == 0 {
		p.EffLengthMaxM = EffLengthMaxM
	}
	if p.OccupancyTolerance == 0 {
		p.OccupancyTolerance = OccupancyTolerance
	}
	switch {
	case p.EffLengthMinM < 1 || p.EffLengthMaxM > 40 || p.EffLengthMinM > p.EffLengthMaxM:
		return p, fmt.Errorf("loop-detector params: eff_length_min_m %v and eff_length_max_m %v must be 1..40 m, min <= max", p.EffLengthMinM, p.EffLengthMaxM)
	case p.OccupancyTolerance < 0 || p.OccupancyTolerance > 50:
		return p, fmt.Errorf("loop-detector params: occupancy_tolerance %v is outside 0..50 percentage points", p.OccupancyTolerance)
	}
	return p, nil
}

// ValidateReported checks the fields, every lane whose record the report
// changed against the interval, and records a fault while a lane's health
// or the status is not ok.
func (loopDetectorKind) ValidateReported(params json.RawMessage, prev, next map[string]any) error {
	if err := loopDetectorFields.check("", next); err != nil {
		return err
	}
	lp, err := ParseLoopDetectorParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	interval, _ := next["interval_s"].(float64)
	lanes, _ := next["lanes"].(map[string]any)
	before, _ := prev["lanes"].(map[string]any)
	for _, id := range sortedKeys(lanes) {
		if reflect.DeepEqual(lanes[id], before[id]) && interval == prev["interval_s"] {
			continue // judged when it was reported
		}
		if err := lp.checkLane("lanes."+id, interval, lanes[id].(map[string]any)); err != nil {
			return err
		}
	}
	var f deviceFault
	for _, id := range sortedKeys(lanes) {
		if h, _ := lanes[id].(map[string]any)["health"].(string); h != "" && h != HealthOK {
			f = deviceFault{reason: h, detail: "lane " + id}
			break
		}
	}
	if f.reason == "" && next["status"] == "fault" {
		f = deviceFault{reason: "detector", detail: "the detector reports status fault"}
	}
	return recordDeviceFault(time.Now(), prev, next, f)
}

// checkLane is one lane's record over interval seconds (0: unknown, and
// only what needs no interval is checked).
func (p LoopDetectorParams) checkLane(path string, interval float64, lane map[string]any) error {
	count, hasCount := lane["count"].(float64)
	occ, hasOcc := lane["occupancy"].(float64)
	speed, hasSpeed := lane["speed_kmh"].(float64)
	if hasCount && count != float64(int64(count)) {
		return invalid(path+".count", "%v is not a whole number of vehicles", count)
	}
	if hasCount && count == 0 && hasSpeed {
		return invalid(path+".speed_kmh", "a lane that counted no vehicle has no speed")
	}
	if hasCount && count > 0 && hasSpeed && speed == 0 {
		return invalid(path+".speed_kmh", "0 km/h for %v vehicles that crossed the loop", count)
	}
	if !hasCount || interval == 0 {
		return nil
	}
	flow := count / interval // vehicles a second
	if flow > MaxFlowPerLaneS {
		return invalid(path+".count", "%v vehicles in %v s is more than %v a second", count, interval, MaxFlowPerLaneS)
	}
	if !hasOcc || !hasSpeed || count == 0 {
		return nil // a standing vehicle occupies a loop without being counted
	}
	v := speed / 3.6
	lo := 100*flow*p.EffLengthMinM/v - p.OccupancyTolerance
	hi := 100*flow*p.EffLengthMaxM/v + p.OccupancyTolerance
	if occ < lo || occ > hi {
		return invalid(path+".occupancy", "%v%% does not fit %v vehicles in %v s at %v km/h (flow × %v..%v m / speed gives %.1f..%.1f%%, ±%v)",
			occ, count, interval, speed, p.EffLengthMinM, p.EffLengthMaxM, max(0, lo+p.OccupancyTolerance), min(100, hi-p.OccupancyTolerance), p.OccupancyTolerance)
	}
	return nil
}

// TrafficStream is the loop detector's telemetry stream of lane readings.
const TrafficStream = "traffic"

var trafficFields = fields{
	"interval_s": {typ: "number", min: 1, max: 3600},
	"lanes":      {typ: "object", dynamic: true, sub: laneFields},
}

// checkTraffic is a traffic reading: {"interval_s": s, "lanes": {...}},
// both required, every lane consistent.
func checkTraffic(params json.RawMessage, m map[string]any) error {
	if err := trafficFields.check("", m); err != nil {
		return err
	}
	p, err := ParseLoopDetectorParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	interval, ok := m["interval_s"].(float64)
	if !ok {
		return invalid("interval_s", "missing: a reading says how long it counted")
	}
	lanes, ok := m["lanes"].(map[string]any)
	if !ok {
		return invalid("lanes", "missing")
	}
	for _, id := range sortedKeys(lanes) {
		if err := p.checkLane("lanes."+id, interval, lanes[id].(map[string]any)); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// noParams accepts only absent or empty params.
func noParams(kind string, params json.RawMessage) error {
	if len(params) == 0 || string(params) == "null" || string(params) == "{}" {
		return nil
	}
	return fmt.Errorf("kind %s takes no params", kind)
}

// decodeParams reads a kind's params strictly into v: one strict JSON
// object (no duplicate names, nothing after it), no unknown members.
// Absent params leave v as it is.
func decodeParams(kind string, raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if _, err := strictjson.DecodeObject(raw, 0); err != nil {
		return fmt.Errorf("%s params: %w", kind, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s params: %w", kind, err)
	}
	return nil
}
