package model

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
)

// LoopDetector counts vehicles per lane with a rush-hour shape, and
// reports occupancy from the vehicles' lengths and speeds as a loop
// measures it (devices/kinds loop_detector.go), and each lane's health.
type LoopDetector struct {
	rng         *rand.Rand
	lanes       int
	last        time.Time
	steps       int
	recalibrate bool              // a recalibrate command waits for the next Step
	health      map[string]string // lane -> NTCIP-style health; set by SetHealth
}

// NewLoopDetector is a two-lane detector, all loops healthy.
func NewLoopDetector(rng *rand.Rand) *LoopDetector {
	return &LoopDetector{rng: rng, lanes: 2, health: map[string]string{}}
}

// SetHealth makes lane report health (kinds.HealthOK, HealthOpenLoop, ...)
// from the next state report on: a loop failing in the field.
func (m *LoopDetector) SetHealth(lane, health string) { m.health[lane] = health }

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
		interval = round1(max(now.Sub(m.last).Seconds(), 1))
	}
	m.last = now
	h := float64(now.Hour()) + float64(now.Minute())/60
	rush := 0.3 + 0.7*(bump(h, 8)+bump(h, 17.5)) // morning and evening peaks
	lanes := map[string]any{}
	for l := 1; l <= m.lanes; l++ {
		lanes[fmt.Sprint(l)] = m.lane(interval, rush)
	}
	reading := map[string]any{"interval_s": interval, "lanes": lanes}
	out := []Publication{{Class: topic.Tele, Name: kinds.TrafficStream, Payload: mustJSON(reading)}}
	if m.steps%10 == 0 || m.recalibrate { // a periodic health report into the twin
		health, status := map[string]any{}, "ok"
		for l := 1; l <= m.lanes; l++ {
			id := fmt.Sprint(l)
			hl := m.health[id]
			if hl == "" {
				hl = kinds.HealthOK
			}
			if hl != kinds.HealthOK {
				status = "fault"
			}
			health[id] = map[string]any{"health": hl}
		}
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(map[string]any{"status": status, "interval_s": interval, "lanes": health}), QoS: 1})
	}
	if m.recalibrate {
		m.recalibrate = false
		out = append(out, Publication{Class: topic.Event, Name: "recalibrated", Payload: mustJSON(map[string]any{"lanes": m.lanes}), QoS: 1})
	}
	m.steps++
	return out
}

// lane is one lane's reading over interval seconds: up to rush vehicles a
// second, each 4..8 m long over a 2 m loop, at a speed that falls with
// the traffic; occupancy is the time they spent over the loop.
func (m *LoopDetector) lane(interval, rush float64) map[string]any {
	count := m.rng.IntN(int(rush*interval) + 1)
	if count == 0 {
		return map[string]any{"count": 0.0, "occupancy": 0.0}
	}
	speed := round1(55 - 30*rush + m.rng.Float64()*10) // km/h
	var onLoop float64                                 // seconds
	for range count {
		onLoop += (4 + m.rng.Float64()*4 + 2) / (speed / 3.6)
	}
	occ := min(100, round1(100*onLoop/interval))
	return map[string]any{"count": float64(count), "occupancy": occ, "speed_kmh": speed}
}
