package kinds

import (
	"reflect"
	"time"
)

// deviceFault is what a device of a sensor or lamp kind reports about its
// own health, turned into the same recorded fault as a traffic signal's
// (FaultField): the report is accepted, since a failing device that says
// so is honest, and the twin shows the fault while it lasts, so the broker
// raises its fault event once when it appears.
type deviceFault struct {
	reason, detail string // reason "" means healthy
}

// recordDeviceFault applies f to next: the device may never write the
// fault field itself; a new fault is recorded at now (the first one stays
// while the device stays unhealthy, as it is the one that tripped), and a
// healthy report clears it: unlike a conflict monitor, a sensor or lamp
// driver does not latch its alarms.
func recordDeviceFault(now time.Time, prev, next map[string]any, f deviceFault) error {
	if !reflect.DeepEqual(prev[FaultField], next[FaultField]) {
		return invalid(FaultField, "is set by the broker from the reported health, never by the device")
	}
	if f.reason == "" {
		delete(next, FaultField)
		return nil
	}
	if next[FaultField] == nil {
		next[FaultField] = map[string]any{"reason": f.reason, "detail": f.detail, "at": float64(now.UnixMilli())}
	}
	return nil
}

// faultFields is the shape of a recorded fault in a sensor's or lamp's
// reported state.
var faultFields = field{typ: "object", sub: fields{
	"reason": {typ: "string"},
	"detail": {typ: "string"},
	"at":     {typ: "number", min: 0, max: 1 << 53},
}}
