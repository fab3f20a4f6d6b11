package broker

import (
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// SPaTStream is the telemetry stream on which traffic signals publish
// signal phase and timing (SAE J2735 MovementState per signal group).
const SPaTStream = "spat"

// checkSPaT refuses a traffic signal's SPaT that contradicts the state its
// twin reports (kinds.CheckSPaT): a vehicle or roadside unit acting on it
// would be told green while the heads show red. Other telemetry passes.
func checkSPaT(t topic.City, dev *twin.Document, payload []byte) error {
	if t.Class != topic.Tele || t.Name != SPaTStream || dev.Kind != "traffic-signal" {
		return nil
	}
	return kinds.CheckSPaT(dev.Reported, payload)
}
