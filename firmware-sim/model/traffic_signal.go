package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// DefaultSignalPlan is the plan simulated intersections are flashed with:
// the NEMA eight-phase dual-ring plan (NEMAPlan).
var DefaultSignalPlan = NEMAPlan

// Stages of the controller besides the signal states of devices/kinds.
const stageFlash = "flash"

// TrafficSignal is a fixed-time controller: the groups of one phase green,
// then yellow for min_yellow_ms, then all red for red_clearance_ms, then the
// next phase. It never shows conflicting greens (a property test runs it
// against devices/kinds' validation), including while it acts on commands:
// a new plan starts at the end of a cycle, flash is entered only at a safe
// point (the end of a yellow change interval, or during a red clearance),
// and leaving flash goes through the start-up sequence (all red for the red
// clearance, then the first phase).
type TrafficSignal struct {
	plan    kinds.TrafficSignalParams
	rings   [][]string // phases: groups that are green together
	greenMS int64

	phase        int       // index into rings
	stage        string    // green, yellow, red (clearance) or flash
	since        time.Time // when the stage began
	started      bool
	last         time.Time // the last Step
	groups       map[string]map[string]any
	planName     string // reported as "plan"
	reportedPlan string
	mode         string // reported as "mode": normal or flash
	reportedMode string

	pendingPlan  string  // set-plan: switch at the end of the cycle
	pendingFlash bool    // flash: enter at the next safe point
	pendingStart bool    // resume: run the start-up sequence at the next step
	hold         string  // hold-phase: the group to hold ...
	holdMS       int64   // ... and for how long, at its next (or current) green
	holdSeconds  float64 // as commanded, reported as "hold" while it lasts
	reportedHold string  // the hold last reported ("" none)
}

// NewTrafficSignal builds a controller for the plan in params.
func NewTrafficSignal(params json.RawMessage) (*TrafficSignal, error) {
	p, err := kinds.ParseTrafficSignalParams(params)
	if err != nil {
		return nil, err
	}
	ts := &TrafficSignal{plan: p, greenMS: max(p.MinGreenMS, 10_000), groups: map[string]map[string]any{}, planName: "fixed-time", mode: "normal"}
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

// SetGreen sets the green time of every phase (at least min_green_ms; the
// default is 10 s), for simulations that need short cycles.
func (ts *TrafficSignal) SetGreen(d time.Duration) {
	ts.greenMS = max(ts.plan.MinGreenMS, d.Milliseconds())
}

// Command acts on a verified catalogue command (devices/catalog). The
// change shows in the following Steps.
func (ts *TrafficSignal) Command(name string, a catalog.Args) error {
	switch name {
	case "set-plan":
		name, err := plannedPlan(ts.plan, a)
		if err != nil {
			return err
		}
		ts.pendingPlan = name
	case "flash":
		ts.pendingFlash, ts.pendingStart = ts.mode != "flash", false
	case "resume":
		ts.pendingFlash = false
		ts.pendingStart = ts.mode == "flash"
	case "hold-phase":
		if ts.mode != "normal" {
			return refuse("the signal is in %s: a hold needs normal operation", ts.mode)
		}
		g, ms := a.String("group"), int64(a.Number("seconds")*1000)
		if ms > ts.plan.MaxHoldS*1000 {
			return refuse("hold of %d ms is longer than max_hold_s %d", ms, ts.plan.MaxHoldS)
		}
		if ts.stage == kinds.Green && slices.Contains(ts.rings[ts.phase], g) {
			ms += ts.last.Sub(ts.since).Milliseconds() // hold from now on
		}
		ts.hold, ts.holdMS, ts.holdSeconds = g, ms, a.Number("seconds")
	case catalog.Cancel:
		switch a.String("command") {
		case "set-plan":
			ts.pendingPlan = ""
		case "flash":
			ts.pendingFlash = false
		case "resume":
			ts.pendingStart = false
		case "hold-phase":
			ts.hold, ts.holdMS = "", 0
		}
	default:
		return refuse("a traffic signal takes no command %q", name)
	}
	return nil
}

// refuse is a model's unsafe_command: it will not do what was asked.
func refuse(format string, a ...any) error {
	return signing.Reject(signing.ReasonUnsafeCommand, "payload", format, a...)
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
	allRed := func(at time.Time) {
		ts.stage, ts.since = kinds.Red, at
		ts.phase = len(ts.rings) - 1 // the clearance ends in the first phase
		for _, g := range ts.plan.Groups {
			set(g, kinds.Red, at)
		}
	}
	enterFlash := func(at time.Time) {
		ts.stage, ts.since, ts.mode, ts.pendingFlash = stageFlash, at, "flash", false
		for _, g := range ts.plan.Groups {
			set(g, kinds.Flash, at)
		}
	}
	ts.last = now
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
	switch {
	case ts.pendingStart:
		// Start-up from flash: all red for the red clearance first.
		ts.pendingStart, ts.mode = false, "normal"
		allRed(now)
	case ts.pendingFlash && ts.stage == kinds.Red:
		enterFlash(now) // a red clearance is a safe point
	}
	// Advance through every stage boundary that passed since the last step.
	for ts.stage != stageFlash {
		end := ts.since.Add(time.Duration(ts.stageMS()) * time.Millisecond)
		if now.Before(end) {
			break
		}
		ring := ts.rings[ts.phase]
		switch ts.stage {
		case kinds.Green:
			ts.stage = kinds.Yellow
			if slices.Contains(ring, ts.hold) {
				ts.hold, ts.holdMS = "", 0 // served
			}
			for _, g := range ring {
				set(g, kinds.Yellow, end)
			}
		case kinds.Yellow:
			if ts.pendingFlash { // the end of a yellow is a safe point
				enterFlash(end)
				continue
			}
			ts.stage = kinds.Red
			for _, g := range ring {
				set(g, kinds.Red, end)
			}
		default: // clearance over: next phase goes green
			ts.phase = (ts.phase + 1) % len(ts.rings)
			if ts.phase == 0 && ts.pendingPlan != "" { // a new plan starts a cycle
				ts.rings, ts.planName, ts.pendingPlan = ts.plan.Plans[ts.pendingPlan], ts.pendingPlan, ""
			}
			ts.stage = kinds.Green
			for _, g := range ts.rings[ts.phase] {
				set(g, kinds.Green, end)
			}
		}
		ts.since = end
	}
	var out []Publication
	hold := ""
	if ts.hold != "" {
		hold = fmt.Sprintf("%s/%v", ts.hold, ts.holdSeconds)
	}
	if len(changed) > 0 || ts.planName != ts.reportedPlan || ts.mode != ts.reportedMode || hold != ts.reportedHold {
		patch := map[string]any{}
		if len(changed) > 0 {
			patch["groups"] = changed
		}
		if ts.planName != ts.reportedPlan {
			patch["plan"], ts.reportedPlan = ts.planName, ts.planName
		}
		if ts.mode != ts.reportedMode {
			patch["mode"], ts.reportedMode = ts.mode, ts.mode
		}
		if hold != ts.reportedHold {
			patch["hold"], ts.reportedHold = nil, hold // RFC 7396: null removes it
			if hold != "" {
				patch["hold"] = map[string]any{"group": ts.hold, "seconds": ts.holdSeconds}
			}
		}
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(patch), QoS: 1})
	}
	// SPaT in the format the broker checks (devices/kinds CheckSPaT): every
	// head's colour, and no change before now.
	nowMS := float64(now.UnixMilli())
	spatGroups := map[string]any{}
	for g, v := range ts.groups {
		since, _ := v["since"].(float64)
		state, _ := v["state"].(string)
		spatGroups[g] = map[string]any{"event": spatEvent(state), "min_end": max(nowMS, since)}
	}
	spat := map[string]any{"at": nowMS, "groups": spatGroups}
	return append(out, Publication{Class: topic.Tele, Name: "spat", Payload: mustJSON(spat)})
}

func (ts *TrafficSignal) stageMS() int64 {
	switch ts.stage {
	case kinds.Green:
		if slices.Contains(ts.rings[ts.phase], ts.hold) {
			return max(ts.greenMS, ts.holdMS)
		}
		return ts.greenMS
	case kinds.Yellow:
		return ts.plan.MinYellowMS
	}
	return ts.plan.RedClearanceMS
}

// plannedPlan is the plan a set-plan command names, if the controller's
// params define it and it is safe: checked at the broker already, but a
// controller never trusts a plan it would run. Both controllers use it.
func plannedPlan(p kinds.TrafficSignalParams, a catalog.Args) (string, error) {
	name := a.String("plan")
	phases, ok := p.Plans[name]
	if !ok {
		return "", refuse("plan %q is not in this controller's params", name)
	}
	if err := catalog.SafePlan(p, phases); err != nil {
		return "", err
	}
	return name, nil
}
