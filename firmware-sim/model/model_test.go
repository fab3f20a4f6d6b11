package model

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// TestModelsProduceValidState runs each kind's model for a simulated day and
// checks every state it reports passes the broker's validation.
func TestModelsProduceValidState(t *testing.T) {
	for _, kind := range []string{"loop-detector", "streetlight", "air-quality"} {
		m, err := New(kind, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		profile, _ := kinds.Lookup(kind)
		doc := twin.New("d", "z", kind)
		states, tele := 0, 0
		for now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); now.Day() == 1; now = now.Add(time.Minute) {
			for _, p := range m.Step(now) {
				if !json.Valid(p.Payload) {
					t.Fatalf("%s: invalid JSON %s", kind, p.Payload)
				}
				switch p.Class {
				case topic.State:
					states++
					// The broker's rules: strict JSON, profile fields only
					// (kinds.ValidatePatch), the twin's size limit.
					if err := doc.ApplyReportedWith(p.Payload, twin.FieldMeta{}, twin.Rules{
						Patch: func(patch map[string]any) error { return kinds.ValidatePatch(profile, patch) },
						Validate: func(prev, next map[string]any) error {
							return profile.ValidateReported(nil, prev, next)
						},
					}); err != nil {
						t.Fatalf("%s: %v", kind, err)
					}
				case topic.Tele:
					tele++
				}
			}
		}
		if tele == 0 || states == 0 {
			t.Fatalf("%s: %d state and %d telemetry messages in a day", kind, states, tele)
		}
	}
}
