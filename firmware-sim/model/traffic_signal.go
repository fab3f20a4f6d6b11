package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/devices/topic"
)

// DefaultSignalPlan is the plan simulated intersections are flashed with:
// the NEMA eight-phase dual-ring plan (NEMAPlan).
var DefaultSignalPlan = NEMAPlan

// TrafficSignal is a fixed-time controller: the north-south groups, then the
// east-west ones, each green, then yellow for min_yellow_ms, then all red for
// red_clearance_ms. It never shows conflicting greens (a property test runs
// it against devices/kinds' validation).
type TrafficSignal struct {
	plan    kinds.TrafficSignalParams
	rings   [][]string // groups that are green together
	greenMS int64

	phase        int       // index into rings
	stage        string    // green, yellow or red (clearance)
	since        time.Time // when the stage began
	started      bool
	groups       map[string]map[string]any
	planName     string // reported as "plan"; set by a command
	reportedPlan string
}

// Command acts on a wanted state. A fixed-time controller takes a new plan
// name ({"plan": "weekday-am"}); the signal groups are never commanded
// directly: its own cycle is what keeps greens from conflicting.
func (ts *TrafficSignal) Command(_ string, payload []byte) error {
	var p struct {
		Plan string `json:"plan"`
	}
	// The same strict reading as the broker's (no duplicate names, no
	// trailing data), so the device acts on the value the broker checked.
	if _, err := strictjson.DecodeObject(payload, 0); err != nil {
		return fmt.Errorf("traffic-signal: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Plan == "" {
		return fmt.Errorf(`traffic-signal: this controller takes only {"plan": NAME}, not %s`, payload)
	}
	ts.planName = p.Plan
	return nil
}

// NewTrafficSignal builds a controller for the plan in params.
func NewTrafficSignal(params json.RawMessage) (*TrafficSignal, error) {
	p, err := kinds.ParseTrafficSignalParams(params)
	if err != nil {
		return nil, err
	}
	ts := &TrafficSignal{plan: p, greenMS: max(p.MinGreenMS, 10_000), groups: map[string]map[string]any{}, planName: "fixed-time"}
	// Greedy phases: groups that conflict with nothing already in the phase.
	left := slices.Clone(p.Groups)
	for len(left) > 0 {
		var ring, rest []string
		for _, g := range left {
			if ts.conflictsAny(g, ring) {
				rest = append(rest, g)
			} else {
				ring = append(ring, g)
			}
		}
		ts.rings, left = append(ts.rings, ring), rest
	}
	return ts, nil
}

func (ts *TrafficSignal) conflictsAny(g string, with []string) bool {
	return slices.ContainsFunc(with, func(o string) bool { return ts.plan.Conflict(g, o) })
}

// Step advances the controller and publishes a merge patch of the groups that
// changed (state) and the timing (tele/spat).
func (ts *TrafficSignal) Step(now time.Time) []Publication {
	changed := map[string]any{}
	set := func(g, state string, at time.Time) {
		v := map[string]any{"state": state, "since": float64(at.UnixMilli())}
		ts.groups[g] = v
		changed[g] = v
	}
	if !ts.started {
		ts.started, ts.stage, ts.since = true, kinds.Green, now
		for i, ring := range ts.rings {
			for _, g := range ring {
				if i == 0 {
					set(g, kinds.Green, now)
				} else {
					set(g, kinds.Red, now)
				}
			}
		}
	}
	// Advance through every stage boundary that passed since the last step.
	for {
		end := ts.since.Add(time.Duration(ts.stageMS()) * time.Millisecond)
		if now.Before(end) {
			break
		}
		ring := ts.rings[ts.phase]
		switch ts.stage {
		case kinds.Green:
			ts.stage = kinds.Yellow
			for _, g := range ring {
				set(g, kinds.Yellow, end)
			}
		case kinds.Yellow:
			ts.stage = kinds.Red
			for _, g := range ring {
				set(g, kinds.Red, end)
			}
		default: // clearance over: next phase goes green
			ts.phase = (ts.phase + 1) % len(ts.rings)
			ts.stage = kinds.Green
			for _, g := range ts.rings[ts.phase] {
				set(g, kinds.Green, end)
			}
		}
		ts.since = end
	}
	var out []Publication
	if len(changed) > 0 {
		patch := map[string]any{"groups": changed}
		if len(changed) == len(ts.groups) {
			patch["mode"], patch["plan"] = "normal", ts.planName
		}
		if ts.planName != ts.reportedPlan {
			patch["plan"], ts.reportedPlan = ts.planName, ts.planName
		}
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(patch), QoS: 1})
	}
	left := ts.since.Add(time.Duration(ts.stageMS()) * time.Millisecond).Sub(now).Milliseconds()
	spat := map[string]any{"phase": ts.phase, "stage": ts.stage, "time_to_change_ms": left,
		"min_yellow_ms": ts.plan.MinYellowMS, "red_clearance_ms": ts.plan.RedClearanceMS, "green_ms": ts.greenMS}
	return append(out, Publication{Class: topic.Tele, Name: "spat", Payload: mustJSON(spat)})
}

func (ts *TrafficSignal) stageMS() int64 {
	switch ts.stage {
	case kinds.Green:
		return ts.greenMS
	case kinds.Yellow:
		return ts.plan.MinYellowMS
	}
	return ts.plan.RedClearanceMS
}
