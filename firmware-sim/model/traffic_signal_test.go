package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// TestTrafficSignalNeverConflicts runs the controller for 10,000 simulated
// seconds at irregular steps and feeds every state patch through the same
// twin merge and kinds validation the broker uses: no conflicting green and
// no skipped minimum yellow, ever.
func TestTrafficSignalNeverConflicts(t *testing.T) {
	profile, _ := kinds.Lookup("traffic-signal")
	m, err := NewTrafficSignal(fourGroupPlan)
	if err != nil {
		t.Fatal(err)
	}
	doc := twin.New("tl-1", "z1", "traffic-signal")
	var now time.Time // the simulated clock, which the monitor judges at
	validate := func(prev, next map[string]any) error {
		if f, err := kinds.MonitorTrafficSignal(now, fourGroupPlan, prev, next); f != nil || err != nil {
			return fmt.Errorf("fault %v, err %w", f, err)
		}
		return nil
	}
	rng := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	now = start
	greens := 0
	for now.Sub(start) < 10_000*time.Second {
		now = now.Add(time.Duration(200+rng.IntN(3000)) * time.Millisecond)
		for _, p := range m.Step(now) {
			if p.Class != topic.State {
				continue
			}
			rules := twin.Rules{Validate: validate, Patch: func(patch map[string]any) error { return kinds.ValidatePatch(profile, patch) }}
			if err := doc.ApplyReportedWith(p.Payload, twin.FieldMeta{}, rules); err != nil {
				t.Fatalf("at %s: %v (patch %s)", now.Sub(start), err, p.Payload)
			}
			var patch map[string]map[string]map[string]any
			json.Unmarshal(p.Payload, &patch)
			for _, g := range patch["groups"] {
				if g["state"] == kinds.Green {
					greens++
				}
			}
		}
	}
	if greens < 300 {
		t.Fatalf("only %d green starts in 10,000 s: the controller is not cycling", greens)
	}
}

// TestValidatorCatchesABrokenController makes sure the property above can fail.
func TestValidatorCatchesABrokenController(t *testing.T) {
	prev := map[string]any{"groups": map[string]any{"2": map[string]any{"state": "green", "since": 1000.0}, "4": map[string]any{"state": "red", "since": 1000.0}}}
	next := map[string]any{"groups": map[string]any{"2": map[string]any{"state": "red", "since": 9000.0}, "4": map[string]any{"state": "red", "since": 1000.0}}}
	if f, _ := kinds.MonitorTrafficSignal(time.Now(), fourGroupPlan, prev, next); f == nil {
		t.Fatal("green -> red without yellow not a fault")
	}
}

// fourGroupPlan is a plan without rings, which NewTrafficSignal times as
// greedy phases.
var fourGroupPlan = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["4","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`)
