package kinds

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
)

// StreetlightParams is a luminaire's electrical rating, enrolled with it
// (all optional; docs/device-kinds.md):
//
//	{"rated_w": 100, "standby_w": 2, "tolerance_pct": 15}
//
// A report's power must be standby_w + rated_w × level / 100, within
// tolerance_pct of rated_w; off (or level 0) draws standby_w at most
// (plus the tolerance). A lamp or driver that has failed draws less, never
// more.
type StreetlightParams struct {
	RatedW       float64 `json:"rated_w,omitempty"`
	StandbyW     float64 `json:"standby_w,omitempty"`
	TolerancePct float64 `json:"tolerance_pct,omitempty"`
}

// Streetlight defaults: a 100 W LED luminaire whose driver idles at 2 W.
const (
	DefaultRatedW       = 100
	DefaultStandbyW     = 2
	DefaultTolerancePct = 15
)

// ParseStreetlightParams decodes params (absent: the defaults) and fills
// in the defaults.
func ParseStreetlightParams(raw json.RawMessage) (StreetlightParams, error) {
	p := StreetlightParams{}
	if err := decodeParams("streetlight", raw, &p); err != nil {
		return p, err
	}
	if p.RatedW == 0 {
		p.RatedW = DefaultRatedW
	}
	if p.StandbyW == 0 {
		p.StandbyW = DefaultStandbyW
	}
	if p.TolerancePct == 0 {
		p.TolerancePct = DefaultTolerancePct
	}
	switch {
	case p.RatedW < 1 || p.RatedW > 2000:
		return p, fmt.Errorf("streetlight params: rated_w %v is outside 1..2000", p.RatedW)
	case p.StandbyW < 0 || p.StandbyW > 50:
		return p, fmt.Errorf("streetlight params: standby_w %v is outside 0..50", p.StandbyW)
	case p.TolerancePct < 1 || p.TolerancePct > 50:
		return p, fmt.Errorf("streetlight params: tolerance_pct %v is outside 1..50", p.TolerancePct)
	}
	return p, nil
}

// PowerRange is the draw the luminaire may report at level (percent; 0
// when off), healthy or (failed) with a failed lamp, driver or supply.
func (p StreetlightParams) PowerRange(level float64, failed bool) (lo, hi float64) {
	tol := p.RatedW * p.TolerancePct / 100
	want := p.StandbyW + p.RatedW*level/100
	lo, hi = max(0, want-tol), want+tol
	if failed {
		lo = 0
	}
	return lo, hi
}

// Lamp health a streetlight reports; anything but ok is a fault.
const (
	LampOK     = "ok"
	LampFailed = "lamp"   // the lamp or LED module is out
	LampDriver = "driver" // the driver has failed
	LampPower  = "power"  // no or bad supply
)

// Schedule sources.
const (
	ScheduleDuskToDawn = "dusk-to-dawn" // the luminaire's own sunset/sunrise schedule
	ScheduleOperator   = "operator"     // set by the schedule command
)

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

var streetlightFields = fields{
	"on":      {typ: "bool"},
	"level":   {typ: "number", min: 0, max: 100}, // dim level, percent
	"power_w": {typ: "number", min: 0, max: 2050},
	"health":  {typ: "string", enum: []string{LampOK, LampFailed, LampDriver, LampPower}},
	"mode":    {typ: "string", enum: []string{"schedule", "manual", "off"}},
	// The daily schedule in use: on and off are "HH:MM" local time, level
	// the percent while on; source says whether it is the luminaire's own
	// dusk-to-dawn one (recomputed daily) or an operator's.
	"schedule": {typ: "object", sub: fields{
		"on":     {typ: "string"},
		"off":    {typ: "string"},
		"level":  {typ: "number", min: 0, max: 100},
		"source": {typ: "string", enum: []string{ScheduleDuskToDawn, ScheduleOperator}},
	}},
	FaultField: faultFields,
}

type streetlightKind struct{}

var streetlight = streetlightKind{}

func (streetlightKind) Kind() string     { return "streetlight" }
func (streetlightKind) fieldSet() fields { return streetlightFields }

func (streetlightKind) ValidateParams(params json.RawMessage) error {
	_, err := ParseStreetlightParams(params)
	return err
}

// ValidateReported checks the fields, the schedule's times, a reported
// power against the level it is reported with, and records a fault while
// the health is not ok.
func (streetlightKind) ValidateReported(params json.RawMessage, prev, next map[string]any) error {
	if err := streetlightFields.check("", next); err != nil {
		return err
	}
	p, err := ParseStreetlightParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	if s, ok := next["schedule"].(map[string]any); ok {
		for _, k := range []string{"on", "off"} {
			if v, ok := s[k].(string); ok && !hhmm.MatchString(v) {
				return invalid("schedule."+k, "%q is not HH:MM", v)
			}
		}
	}
	health, _ := next["health"].(string)
	// Power is judged when reported, against the level of the same state.
	if w, ok := next["power_w"].(float64); ok && next["power_w"] != prev["power_w"] {
		if err := checkPower(p, next, health, w, "power_w"); err != nil {
			return err
		}
	}
	var f deviceFault
	if health != "" && health != LampOK {
		f = deviceFault{reason: "lamp-" + health, detail: "the luminaire reports " + health + " failure"}
	}
	return recordDeviceFault(time.Now(), prev, next, f)
}

// checkPower is power w against the reported on/level and health.
func checkPower(p StreetlightParams, reported map[string]any, health string, w float64, path string) error {
	level, _ := reported["level"].(float64)
	if on, ok := reported["on"].(bool); ok && !on {
		level = 0
	}
	lo, hi := p.PowerRange(level, health != "" && health != LampOK)
	if w < lo || w > hi {
		return invalid(path, "%v W at level %v%% is outside %v..%v W (rated_w %v, standby_w %v, tolerance_pct %v)", w, level, lo, hi, p.RatedW, p.StandbyW, p.TolerancePct)
	}
	return nil
}

// PowerStream is the streetlight's telemetry stream of power readings.
const PowerStream = "power"

// checkPowerReading is a power reading {"power_w": W}: when it carries
// power_w, that must fit the level the twin reports.
func checkPowerReading(params json.RawMessage, reported, m map[string]any) error {
	v, ok := m["power_w"]
	if !ok {
		return nil
	}
	if err := streetlightFields["power_w"].check("power_w", v); err != nil {
		return err
	}
	p, err := ParseStreetlightParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	if _, known := reported["level"]; !known {
		return nil // nothing reported yet to contradict
	}
	health, _ := reported["health"].(string)
	return checkPower(p, reported, health, v.(float64), "power_w")
}
