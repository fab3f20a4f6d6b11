// Package model holds the behaviour of simulated city devices. A model is
// deterministic given its seed and the times it is stepped at, so tests can
// run hours of simulated time in milliseconds.
package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
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

// Commandable is a model that acts on verified commands. The runtime calls
// Command only after firmware-sim/command has checked the command, its
// arguments against the catalogue (devices/catalog) and its safety rule
// included; name is a catalogue command of the model's kind. The change
// shows in the next Steps. An error means the model will not do it (the
// device answers "refused"); a *signing.Rejection's reason is the ack's.
type Commandable interface {
	Command(name string, args catalog.Args) error
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
	rng         *rand.Rand
	lanes       int
	last        time.Time
	steps       int
	recalibrate bool // a recalibrate command waits for the next Step
}

// Command acts on recalibrate and cancel (devices/catalog).
func (m *LoopDetector) Command(name string, a catalog.Args) error {
	switch {
	case name == "recalibrate":
		m.recalibrate = true
	case name == catalog.Cancel && a.String("command") == "recalibrate":
		m.recalibrate = false
	case name != catalog.Cancel:
		return refuse("a loop detector takes no command %q", name)
	}
	return nil
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
	if m.steps%10 == 0 || m.recalibrate { // a periodic health report into the twin
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(map[string]any{"status": "ok", "interval_s": round1(interval)}), QoS: 1})
	}
	if m.recalibrate {
		m.recalibrate = false
		out = append(out, Publication{Class: topic.Event, Name: "recalibrated", Payload: mustJSON(map[string]any{"lanes": m.lanes}), QoS: 1})
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
// an operator's set-level overrides the schedule (mode "manual") until a
// schedule command hands it back to a daily on/off schedule.
type Streetlight struct {
	rng    *rand.Rand
	state  map[string]any
	manual *float64      // level set by set-level
	sched  *lampSchedule // set by schedule; nil: the built-in one
}

// lampSchedule is a daily on/off time, in minutes after midnight.
type lampSchedule struct {
	on, off int
	level   float64
}

// Command acts on set-level, schedule and cancel (devices/catalog).
func (m *Streetlight) Command(name string, a catalog.Args) error {
	switch name {
	case "set-level":
		level := a.Number("level")
		m.manual = &level
	case "schedule":
		m.manual = nil
		m.sched = &lampSchedule{on: minutes(a.String("on")), off: minutes(a.String("off")), level: 100}
		if _, ok := a["level"]; ok {
			m.sched.level = a.Number("level")
		}
	case catalog.Cancel:
		switch a.String("command") {
		case "set-level":
			m.manual = nil
		case "schedule":
			m.sched = nil
		}
	default:
		return refuse("a streetlight takes no command %q", name)
	}
	return nil
}

// minutes is "HH:MM" (checked by the catalogue) in minutes after midnight.
func minutes(hhmm string) int {
	var h, mm int
	fmt.Sscanf(hhmm, "%d:%d", &h, &mm)
	return h*60 + mm
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
	if m.sched != nil {
		t := now.Hour()*60 + now.Minute()
		on = t >= m.sched.on && t < m.sched.off
		if m.sched.on > m.sched.off { // across midnight
			on = t >= m.sched.on || t < m.sched.off
		}
		level = 0
		if on {
			level = m.sched.level
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
	interval   time.Duration // set-interval; 0: every Step
	last       time.Time     // the last reading
}

// Command acts on set-interval and cancel (devices/catalog).
func (m *AirQuality) Command(name string, a catalog.Args) error {
	switch {
	case name == "set-interval":
		m.interval = time.Duration(a.Number("seconds") * float64(time.Second))
		m.last, m.steps = time.Time{}, 0 // a reading and a state report now
	case name == catalog.Cancel && a.String("command") == "set-interval":
		m.interval = 0
		m.last, m.steps = time.Time{}, 0
	case name != catalog.Cancel:
		return refuse("an air-quality sensor takes no command %q", name)
	}
	return nil
}

// Interval is the reading interval a set-interval command asked for (0:
// none, one reading per Step).
func (m *AirQuality) Interval() time.Duration { return m.interval }

// Step publishes a reading (at most one per set interval), and the state
// every tenth reading.
func (m *AirQuality) Step(now time.Time) []Publication {
	if m.interval > 0 && !m.last.IsZero() && now.Sub(m.last) < m.interval {
		return nil
	}
	m.last = now
	m.pm25 = min(900, max(1, m.pm25+m.rng.NormFloat64()*0.8))
	m.temp = min(45, max(-20, m.temp+m.rng.NormFloat64()*0.05))
	r := map[string]any{
		"pm25": round1(m.pm25), "pm10": round1(m.pm25 * 1.6), "no2": round1(20 + m.pm25),
		"o3": round1(30 + m.temp), "temp_c": round1(m.temp), "humidity": round1(55 + m.rng.Float64()*5),
	}
	out := []Publication{{Class: topic.Tele, Name: "air", Payload: mustJSON(r)}}
	if m.steps%10 == 0 {
		r["status"] = "ok"
		if m.interval > 0 {
			r["interval_s"] = m.interval.Seconds()
		}
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(r), QoS: 1})
	}
	m.steps++
	return out
}
