package model

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/catalog"
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
// greedy phases, with two plans an operator may switch to and holds of
// up to two minutes.
var fourGroupPlan = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["4","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000,` +
	`"plans":{"weekday-am":[["2","6"],["4","8"]],"split":[["2"],["6"],["4","8"]]},"max_hold_s":120}`)

// TestTrafficSignalCommandsStaySafe runs the controller for 10,000 simulated
// seconds with every catalogue command thrown at it at random moments, and
// feeds every state patch through the broker's validation: commands never
// make it show conflicting greens or skip a yellow or a red clearance.
func TestTrafficSignalCommandsStaySafe(t *testing.T) {
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
	rules := twin.Rules{Validate: validate, Patch: func(patch map[string]any) error { return kinds.ValidatePatch(profile, patch) }}
	commands := []struct {
		name string
		args catalog.Args
	}{
		{"set-plan", catalog.Args{"plan": "split"}},
		{"set-plan", catalog.Args{"plan": "weekday-am"}},
		{"flash", catalog.Args{}},
		{"resume", catalog.Args{}},
		{"hold-phase", catalog.Args{"group": "4", "seconds": 30.0}},
		{"cancel", catalog.Args{"command": "set-plan"}},
	}
	rng := rand.New(rand.NewPCG(9, 9))
	start := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	for now = start; now.Sub(start) < 10_000*time.Second; {
		now = now.Add(time.Duration(200+rng.IntN(3000)) * time.Millisecond)
		if rng.IntN(20) == 0 {
			c := commands[rng.IntN(len(commands))]
			m.Command(c.name, c.args) // a refusal (hold while flashing) is fine here
		}
		for _, p := range m.Step(now) {
			if p.Class != topic.State {
				continue
			}
			if err := doc.ApplyReportedWith(p.Payload, twin.FieldMeta{}, rules); err != nil {
				t.Fatalf("at %s: %v (patch %s)", now.Sub(start), err, p.Payload)
			}
		}
		seen[doc.Reported["mode"].(string)+"/"+doc.Reported["plan"].(string)] = true
	}
	for _, want := range []string{"flash/split", "normal/split", "normal/weekday-am"} {
		if !seen[want] {
			t.Errorf("never in %s (seen %v): the commands had no effect", want, seen)
		}
	}
}

// TestTrafficSignalFlashAtASafePoint: a flash command during a green waits
// for the end of the yellow; resume starts with all red for the red
// clearance before the first phase goes green.
func TestTrafficSignalFlashAtASafePoint(t *testing.T) {
	m, err := NewTrafficSignal(fourGroupPlan)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	m.Step(t0) // phase 0 green
	if err := m.Command("flash", catalog.Args{}); err != nil {
		t.Fatal(err)
	}
	stateAt := func(at time.Time) (string, map[string]any) {
		m.Step(at)
		g := map[string]any{}
		for id, v := range m.groups {
			g[id] = v["state"]
		}
		return m.mode, g
	}
	if mode, g := stateAt(t0.Add(5 * time.Second)); mode != "normal" || g["2"] != kinds.Green {
		t.Fatalf("flash cut the green short: mode %s groups %v", mode, g)
	}
	if mode, g := stateAt(t0.Add(12 * time.Second)); mode != "normal" || g["2"] != kinds.Yellow {
		t.Fatalf("flash cut the yellow short: mode %s groups %v", mode, g)
	}
	if mode, g := stateAt(t0.Add(15 * time.Second)); mode != "flash" || g["2"] != kinds.Flash || g["4"] != kinds.Flash {
		t.Fatalf("not in flash after the yellow: mode %s groups %v", mode, g)
	}
	if err := m.Command("hold-phase", catalog.Args{"group": "2", "seconds": 10.0}); err == nil {
		t.Fatal("a hold was taken while flashing")
	}
	if err := m.Command("resume", catalog.Args{}); err != nil {
		t.Fatal(err)
	}
	if mode, g := stateAt(t0.Add(60 * time.Second)); mode != "normal" || g["2"] != kinds.Red || g["4"] != kinds.Red || g["6"] != kinds.Red || g["8"] != kinds.Red {
		t.Fatalf("resume did not start all red: mode %s groups %v", mode, g)
	}
	if _, g := stateAt(t0.Add(61 * time.Second)); g["2"] != kinds.Green || g["4"] != kinds.Red {
		t.Fatalf("no first phase after the red clearance: %v", g)
	}
}
