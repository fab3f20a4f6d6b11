// Package model holds the behaviour of simulated city devices. A model is
// deterministic given its seed and the times it is stepped at, so tests can
// run hours of simulated time in milliseconds.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/devices/topic"
)

// Publication is one message a model wants to send.
type Publication struct {
	Class   topic.Class // Tele, State or Event
	Name    string      // stream or event kind ("" for state)
	Payload []byte      // JSON
	QoS     byte
}

// Model is a device's behaviour.
type Model interface {
	// Step advances the model to now and returns what to publish.
	Step(now time.Time) []Publication
}

// Commandable is a model that acts on verified commands (SPEC §5). The
// runtime calls Command only after firmware-sim/command has checked the
// command, including its domain safety; payload is a JSON merge patch of the
// state wanted. The change shows in the next Step. An error means the model
// cannot do it (the device answers "refused").
type Commandable interface {
	Command(name string, payload []byte) error
}

// New returns the model of kind with its params, seeded.
func New(kind string, params json.RawMessage, seed uint64) (Model, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	switch kind {
	case "traffic-signal":
		if p, err := kinds.ParseTrafficSignalParams(params); err == nil && len(p.Rings) > 0 {
			return NewController(params) // a dual-ring plan
		}
		return NewTrafficSignal(params)
	case "loop-detector":
		return &LoopDetector{rng: rng, lanes: 2}, nil
	case "streetlight":
		return &Streetlight{rng: rng}, nil
	case "air-quality":
		return &AirQuality{rng: rng, pm25: 8 + rng.Float64()*10, temp: 12 + rng.Float64()*8}, nil
	}
	return nil, fmt.Errorf("no model for kind %q", kind)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // models marshal plain maps of numbers and strings
	}
	return b
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// LoopDetector counts vehicles per lane with a rush-hour shape.
type LoopDetector struct {
	rng   *rand.Rand
	lanes int
	last  time.Time
	steps int
}

// Step publishes one traffic reading per call.
func (m *LoopDetector) Step(now time.Time) []Publication {
	interval := 1.0
	if !m.last.IsZero() {
		interval = max(now.Sub(m.last).Seconds(), 1)
	}
	m.last = now
	h := float64(now.Hour()) + float64(now.Minute())/60
	rush := 0.3 + 0.7*(bump(h, 8)+bump(h, 17.5)) // morning and evening peaks
	lanes := map[string]any{}
	for l := 1; l <= m.lanes; l++ {
		flow := rush * 0.5 * interval // vehicles per second per lane at peak
		count := float64(m.rng.IntN(int(flow*2) + 1))
		occ := min(100, round1(count*2.5/interval*10))
		lanes[fmt.Sprint(l)] = map[string]any{"count": count, "occupancy": occ, "speed_kmh": round1(55 - 30*rush + m.rng.Float64()*10)}
	}
	reading := map[string]any{"interval_s": round1(interval), "lanes": lanes}
	out := []Publication{{Class: topic.Tele, Name: "traffic", Payload: mustJSON(reading)}}
	if m.steps%10 == 0 { // a periodic health report into the twin
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(map[string]any{"status": "ok", "interval_s": round1(interval)}), QoS: 1})
	}
	m.steps++
	return out
}

// bump is 1 at hour c, falling to 0 two hours away.
func bump(h, c float64) float64 {
	d := h - c
	if d < -2 || d > 2 {
		return 0
	}
	return 1 - d*d/4
}

// Streetlight is on at night, dimmed after midnight, with rare lamp faults;
// an operator's "dim" command overrides the schedule (mode "manual").
type Streetlight struct {
	rng    *rand.Rand
	state  map[string]any
	manual *float64 // level set by a command
}

// Command acts on a wanted state: {"level": 0..100} (0 is off) or
// {"on": false} dims or switches the lamp by hand (mode "manual");
// {"mode": "schedule"} hands it back to the schedule.
func (m *Streetlight) Command(_ string, payload []byte) error {
	var p struct {
		Level *float64 `json:"level"`
		On    *bool    `json:"on"`
		Mode  *string  `json:"mode"`
	}
	// The same strict reading as the broker's (no duplicate names, no
	// trailing data), so the device acts on the value the broker checked.
	if _, err := strictjson.DecodeObject(payload, 0); err != nil {
		return fmt.Errorf("streetlight: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("streetlight: %w", err)
	}
	switch {
	case p.Mode != nil && *p.Mode == "schedule":
		m.manual = nil
	case p.Level != nil:
		m.manual = p.Level
	case p.On != nil:
		level := 0.0
		if *p.On {
			level = 100
		}
		m.manual = &level
	default:
		return fmt.Errorf("streetlight: nothing to do in %s", payload)
	}
	return nil
}

// Step reports state changes and power.
func (m *Streetlight) Step(now time.Time) []Publication {
	h := now.Hour()
	on := h >= 18 || h < 7
	level, mode := 0.0, "schedule"
	if on {
		level = 100
		if h < 5 {
			level = 40 // dimmed in the small hours
		}
	}
	if m.manual != nil {
		level, mode = *m.manual, "manual"
		on = level > 0
	}
	next := map[string]any{"on": on, "level": level, "mode": mode}
	var out []Publication
	if m.state == nil || m.state["on"] != on || m.state["level"] != level || m.state["mode"] != mode {
		m.state = next
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(next), QoS: 1})
	}
	power := round1(level*0.9 + m.rng.Float64())
	out = append(out, Publication{Class: topic.Tele, Name: "power", Payload: mustJSON(map[string]any{"power_w": power})})
	if m.rng.IntN(500) == 0 {
		out = append(out, Publication{Class: topic.Event, Name: "lamp-fault", Payload: mustJSON(map[string]any{"fault": "lamp"}), QoS: 1})
	}
	return out
}

// AirQuality drifts slowly around a baseline with a daily temperature swing.
type AirQuality struct {
	rng        *rand.Rand
	pm25, temp float64
	steps      int
}

// Step publishes a reading, and the state every tenth step.
func (m *AirQuality) Step(now time.Time) []Publication {
	m.pm25 = min(900, max(1, m.pm25+m.rng.NormFloat64()*0.8))
	m.temp = min(45, max(-20, m.temp+m.rng.NormFloat64()*0.05))
	r := map[string]any{
		"pm25": round1(m.pm25), "pm10": round1(m.pm25 * 1.6), "no2": round1(20 + m.pm25),
		"o3": round1(30 + m.temp), "temp_c": round1(m.temp), "humidity": round1(55 + m.rng.Float64()*5),
	}
	out := []Publication{{Class: topic.Tele, Name: "air", Payload: mustJSON(r)}}
	if m.steps%10 == 0 {
		r["status"] = "ok"
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(r), QoS: 1})
	}
	m.steps++
	return out
}
