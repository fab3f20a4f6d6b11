package kinds

import (
	"encoding/json"
	"slices"
)

// Pollutant units. Particulate matter is a mass concentration (µg/m³, as
// EU Directive 2008/50/EC and the WHO guidelines state it); the gases are
// mixing ratios in parts per billion, as sensors report them.
const (
	UnitMicrogramsM3 = "ug/m3"
	UnitPPB          = "ppb"
)

// PollutantUnits is the unit of every pollutant an air-quality sensor
// reports. Every pollutant a reading or the twin holds must have its unit
// stated in "units", and it must be this one: a bare number is not a
// concentration, and a subscriber must not have to guess µg/m³ from mg/m³
// or ppb from µg/m³ (for NO2 they differ by a factor of about 1.9).
var PollutantUnits = map[string]string{
	"pm25": UnitMicrogramsM3,
	"pm10": UnitMicrogramsM3,
	"no2":  UnitPPB,
	"o3":   UnitPPB,
}

var airQualityFields = fields{
	"pm25":     {typ: "number", min: 0, max: 1000}, // µg/m³
	"pm10":     {typ: "number", min: 0, max: 2000}, // µg/m³
	"no2":      {typ: "number", min: 0, max: 2000}, // ppb
	"o3":       {typ: "number", min: 0, max: 1000}, // ppb
	"temp_c":   {typ: "number", min: -50, max: 70},
	"humidity": {typ: "number", min: 0, max: 100}, // relative, percent
	"units": {typ: "object", sub: fields{
		"pm25": {typ: "string", enum: []string{UnitMicrogramsM3}},
		"pm10": {typ: "string", enum: []string{UnitMicrogramsM3}},
		"no2":  {typ: "string", enum: []string{UnitPPB}},
		"o3":   {typ: "string", enum: []string{UnitPPB}},
	}},
	"status": {typ: "string", enum: []string{"ok", "warming-up", "fault"}},
	// Seconds between readings, as set by the set-interval command.
	"interval_s": {typ: "number", min: 1, max: 3600},
}

type airQualityKind struct{}

var airQuality = airQualityKind{}

func (airQualityKind) Kind() string     { return "air-quality" }
func (airQualityKind) fieldSet() fields { return airQualityFields }

func (airQualityKind) ValidateParams(params json.RawMessage) error {
	return noParams("air-quality", params)
}

func (airQualityKind) ValidateReported(_ json.RawMessage, _, next map[string]any) error {
	return checkAir(next)
}

// AirStream is the air-quality sensor's telemetry stream of readings.
const AirStream = "air"

// checkAir is a reading or a reported state: fields in range, the unit of
// every pollutant it carries stated in "units" and the declared one, and
// PM2.5 no more than PM10 (PM10 is the mass of particles up to 10 µm,
// PM2.5 included).
//
// A state is the twin after the report's merge patch (RFC 7396), so units
// stated once are kept and a later report may carry only the numbers; a
// patch that removes a unit while its pollutant stays is refused. A
// reading on the telemetry stream reaches subscribers on its own, without
// the twin, so it must state the units of what it carries itself.
func checkAir(m map[string]any) error {
	if err := airQualityFields.check("", m); err != nil {
		return err
	}
	units, _ := m["units"].(map[string]any)
	names := make([]string, 0, len(PollutantUnits))
	for name := range PollutantUnits {
		names = append(names, name)
	}
	slices.Sort(names) // the first missing one in a stable order
	for _, name := range names {
		if _, ok := m[name]; ok && units[name] == nil {
			return invalid("units."+name, "missing: %s is reported without its unit; state \"units\":{\"%s\":%q}", name, name, PollutantUnits[name])
		}
	}
	pm25, has25 := m["pm25"].(float64)
	pm10, has10 := m["pm10"].(float64)
	if has25 && has10 && pm25 > pm10 {
		return invalid("pm25", "%v µg/m³ is more than pm10 %v µg/m³, which includes it", pm25, pm10)
	}
	return nil
}
