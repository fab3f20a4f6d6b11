package broker

import (
	"encoding/json"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// SPaTStream is the telemetry stream on which traffic signals publish
// signal phase and timing (SAE J2735 MovementState per signal group).
const SPaTStream = kinds.SPaTStream

// checkTelemetry refuses telemetry that contradicts the device's params or
// the state its twin reports (kinds.CheckTelemetry): a traffic signal's
// SPaT telling vehicles green while the heads show red, a loop detector's
// lane counts no traffic could make, a streetlight's power that does not
// fit its level, an air-quality reading without units. Other messages pass.
func checkTelemetry(t topic.City, dev *twin.Document, params json.RawMessage, payload []byte) error {
	if t.Class != topic.Tele {
		return nil
	}
	return kinds.CheckTelemetry(dev.Kind, params, dev.Reported, t.Name, payload)
}
