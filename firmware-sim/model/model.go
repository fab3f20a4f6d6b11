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
		return NewLoopDetector(rng), nil
	case "streetlight":
		return NewStreetlight(params, rng)
	case "air-quality":
		return NewAirQuality(rng), nil
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

// bump is 1 at hour c, falling to 0 two hours away.
func bump(h, c float64) float64 {
	d := h - c
	if d < -2 || d > 2 {
		return 0
	}
	return 1 - d*d/4
}
