package kinds

import (
	"encoding/json"
	"sync"

	"github.com/signet-city/signet/devices/strictjson"
)

// CheckTelemetry checks a telemetry message of a device of kind on stream
// against the device's params and the state its twin reports, as the
// broker does before a subscriber sees it: a traffic signal's SPaT
// (CheckSPaT), a loop detector's lane readings, a streetlight's power and
// an air-quality sensor's readings. The streams a kind defines must be one
// strict JSON object; other streams are not read here. Errors are
// *signing.Rejection with ReasonInvalidState.
func CheckTelemetry(kind string, params json.RawMessage, reported map[string]any, stream string, payload []byte) error {
	var check func(map[string]any) error
	switch {
	case kind == trafficSignal{}.Kind() && stream == SPaTStream:
		return CheckSPaT(reported, payload)
	case kind == loopDetector.Kind() && stream == TrafficStream:
		check = func(m map[string]any) error { return checkTraffic(params, m) }
	case kind == streetlight.Kind() && stream == PowerStream:
		check = func(m map[string]any) error { return checkPowerReading(params, reported, m) }
	case kind == airQuality.Kind() && stream == AirStream:
		check = checkAir
	default:
		return nil
	}
	m := telemetryMaps.Get().(map[string]any)
	defer putTelemetryMap(m)
	if err := strictjson.DecodeObjectInto(m, payload, 0); err != nil {
		return invalid("payload", "must be one strict JSON object: %v", err)
	}
	return check(m)
}

// telemetryMaps are the maps telemetry is read into to be checked: one a
// message, the most common allocation of a telemetry check, and the checks
// only read them. A map that a message made large is not kept.
var telemetryMaps = sync.Pool{New: func() any { return map[string]any{} }}

// maxPooledMembers is the most members a map is put back in telemetryMaps
// with: clear keeps a map's capacity, and every kind's readings fit.
const maxPooledMembers = 32

// putTelemetryMap empties m and keeps it for the next check if it is small.
func putTelemetryMap(m map[string]any) {
	if len(m) > maxPooledMembers {
		return
	}
	clear(m)
	telemetryMaps.Put(m)
}

// SPaTStream is the telemetry stream on which traffic signals publish
// signal phase and timing.
const SPaTStream = "spat"
