package catalog

// The streetlight, loop-detector and air-quality commands. Their safety is
// the schema's bounds: none of them can put the device in a state its kind
// refuses (devices/kinds).

func streetlight() []*Command {
	return []*Command{
		{
			Name:    "set-level",
			Summary: "dims the lamp by hand to level percent (0 is off); the schedule stops until a schedule command",
			Args:    Schema{{Name: "level", Type: Number, Required: true, Min: 0, Max: 100, Doc: "dim level, percent"}},
			Sets:    []string{"level", "mode"},
			Safety:  "level within 0..100",
			desired: func(a Args) map[string]any { return map[string]any{"level": a.Number("level"), "mode": "manual"} },
		},
		{
			Name:    "schedule",
			Summary: "hands the lamp back to a daily schedule: on at on, off at off, at level percent",
			Args: Schema{
				{Name: "on", Type: TimeOfDay, Required: true, Doc: "switch-on time, HH:MM"},
				{Name: "off", Type: TimeOfDay, Required: true, Doc: "switch-off time, HH:MM"},
				{Name: "level", Type: Number, Min: 1, Max: 100, Doc: "level while on, percent (default 100)"},
			},
			Sets:   []string{"mode", "schedule"},
			Safety: "on and off differ (a schedule that never switches is a set-level)",
			safe: func(_ State, a Args) error {
				if a.String("on") == a.String("off") {
					return unsafe("payload.off", "on and off are both %s", a.String("on"))
				}
				return nil
			},
			desired: func(a Args) map[string]any {
				s := map[string]any{"on": a.String("on"), "off": a.String("off"), "level": 100.0}
				if _, ok := a["level"]; ok {
					s["level"] = a.Number("level")
				}
				return map[string]any{"mode": "schedule", "schedule": s}
			},
		},
	}
}

func loopDetector() []*Command {
	return []*Command{{
		Name:    "recalibrate",
		Summary: "re-tunes the loops to their present inductance (counts pause for a few seconds)",
		Args:    Schema{},
		Sets:    []string{"calibration"},
		Safety:  "none beyond the empty arguments",
		desired: func(Args) map[string]any { return map[string]any{"calibration": "requested"} },
	}}
}

// AirQualityMinInterval and AirQualityMaxInterval bound set-interval: below
// a few seconds the sensor's fan and laser wear out for no new information,
// above an hour the readings stop being useful for alerts.
const (
	AirQualityMinInterval = 5
	AirQualityMaxInterval = 3600
)

func airQuality() []*Command {
	return []*Command{{
		Name:    "set-interval",
		Summary: "sets how often the sensor publishes a reading, in seconds",
		Args:    Schema{{Name: "seconds", Type: Number, Required: true, Min: AirQualityMinInterval, Max: AirQualityMaxInterval, Doc: "seconds between readings"}},
		Sets:    []string{"interval_s"},
		Safety:  "seconds within the schema's bounds",
		desired: func(a Args) map[string]any { return map[string]any{"interval_s": a.Number("seconds")} },
	}}
}
