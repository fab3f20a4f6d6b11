package model

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/catalog"
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
					if err := doc.ApplyReported(p.Payload, twin.FieldMeta{}, func(prev, next map[string]any) error {
						return profile.ValidateReported(nil, prev, next)
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

// TestModelsActOnTheirCommands: each kind's model changes what it reports
// (or how often) for its catalogue commands, and refuses another kind's.
func TestModelsActOnTheirCommands(t *testing.T) {
	night := time.Date(2026, 1, 1, 22, 0, 0, 0, time.UTC)
	stateOf := func(m Model, at time.Time) map[string]any {
		for _, p := range m.Step(at) {
			if p.Class == topic.State {
				var s map[string]any
				json.Unmarshal(p.Payload, &s)
				return s
			}
		}
		return nil
	}
	sl, _ := New("streetlight", nil, 1)
	stateOf(sl, night)
	if err := sl.(Commandable).Command("set-level", catalog.Args{"level": 30.0}); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(sl, night.Add(time.Minute)); s["level"] != 30.0 || s["mode"] != "manual" {
		t.Fatalf("after set-level: %v", s)
	}
	if err := sl.(Commandable).Command("schedule", catalog.Args{"on": "23:00", "off": "05:00", "level": 60.0}); err != nil {
		t.Fatal(err)
	}
	if s := stateOf(sl, night.Add(2*time.Minute)); s["on"] != false || s["mode"] != "schedule" {
		t.Fatalf("22:02 with a schedule from 23:00: %v", s)
	}
	if s := stateOf(sl, night.Add(90*time.Minute)); s["on"] != true || s["level"] != 60.0 {
		t.Fatalf("23:30 with a schedule from 23:00 at 60 %%: %v", s)
	}
	if err := sl.(Commandable).Command("recalibrate", catalog.Args{}); err == nil {
		t.Fatal("a streetlight took recalibrate")
	}

	ld, _ := New("loop-detector", nil, 1)
	ld.Step(night)
	ld.(Commandable).Command("recalibrate", catalog.Args{})
	found := false
	for _, p := range ld.Step(night.Add(time.Second)) {
		found = found || (p.Class == topic.Event && p.Name == "recalibrated")
	}
	if !found {
		t.Fatal("recalibrate published no recalibrated event")
	}

	aq, _ := New("air-quality", nil, 1)
	aq.(Commandable).Command("set-interval", catalog.Args{"seconds": 60.0})
	readings := 0
	for s := 0; s < 300; s++ {
		readings += len(aq.Step(night.Add(time.Duration(s) * time.Second)))
	}
	if readings == 0 || readings > 10 {
		t.Fatalf("%d messages in 300 s at one reading a minute", readings)
	}
}
