package kinds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/strictjson"
)

// TrafficSignalParams is an intersection's signal plan, flashed into the
// controller and enrolled with it. docs/traffic-signals.md describes the
// format; in short:
//
//	{"groups": ["1",...,"8"],                 NEMA signal groups (phases)
//	 "compatible": [["1","5"],["2","6"],...], the only pairs that may be green or yellow together
//	 "rings": [["1","2","3","4"],["5","6","7","8"]],
//	 "barriers": [["1","2","5","6"],["3","4","7","8"]],
//	 "min_green_ms": 5000, "min_yellow_ms": 3000, "red_clearance_ms": 1000,
//	 "phases": {"2": {"min_green_ms": 10000, "yellow_ms": 4000, "walk_ms": 7000, "ped_clearance_ms": 12000}},
//	 "dark": ["1","5"],                       groups that may be dark (flash or off)
//	 "startup_flash_ms": 6000}
//
// The compatibility matrix is default-conflict, as a NEMA TS 2 conflict
// monitor's (MMU) compatibility card: two groups may show green or yellow at
// once only if the pair is listed.
type TrafficSignalParams struct {
	Groups         []string               `json:"groups"`
	Compatible     [][2]string            `json:"compatible"`
	Rings          [][]string             `json:"rings,omitempty"`
	Barriers       [][]string             `json:"barriers,omitempty"`
	MinGreenMS     int64                  `json:"min_green_ms"`
	MinYellowMS    int64                  `json:"min_yellow_ms"`
	RedClearanceMS int64                  `json:"red_clearance_ms"`
	Phases         map[string]PhaseTiming `json:"phases,omitempty"`
	Dark           []string               `json:"dark,omitempty"`
	StartupFlashMS int64                  `json:"startup_flash_ms,omitempty"`
	// Plans are the signal plans an operator may switch to (the set-plan
	// command, devices/catalog): each a sequence of phases, a phase being
	// the groups green together. A plan that would show conflicting greens
	// is refused when commanded (unsafe_command), not at enrolment.
	Plans map[string][][]string `json:"plans,omitempty"`
	// MaxHoldS is the longest an operator may hold a group green (the
	// hold-phase command); 0 allows no hold.
	MaxHoldS int64 `json:"max_hold_s,omitempty"`
}

// PhaseTiming is one signal group's own timing; a zero member takes the
// plan-wide value. Walk and pedestrian clearance belong to the through
// phases that have pedestrian heads (MUTCD §4E.06).
type PhaseTiming struct {
	MinGreenMS     int64 `json:"min_green_ms,omitempty"`
	YellowMS       int64 `json:"yellow_ms,omitempty"`
	RedClearanceMS int64 `json:"red_clearance_ms,omitempty"`
	WalkMS         int64 `json:"walk_ms,omitempty"`
	PedClearanceMS int64 `json:"ped_clearance_ms,omitempty"`
}

// DefaultStartupFlashMS is the start-up flash when a plan names none: a
// controller shows flash for a few seconds after power-on before its
// all-red start-up (NEMA TS 2 §3.9.1.2 start-up flash).
const DefaultStartupFlashMS = 6000

// Timing is group g's effective timing: its own values, else the plan's.
func (p TrafficSignalParams) Timing(g string) PhaseTiming {
	t := p.Phases[g]
	if t.MinGreenMS == 0 {
		t.MinGreenMS = p.MinGreenMS
	}
	if t.YellowMS == 0 {
		t.YellowMS = p.MinYellowMS
	}
	if t.RedClearanceMS == 0 {
		t.RedClearanceMS = p.RedClearanceMS
	}
	return t
}

// Conflict reports whether groups a and b may not show green or yellow at
// once: every pair the plan does not declare compatible conflicts.
func (p TrafficSignalParams) Conflict(a, b string) bool {
	if a == b {
		return false
	}
	for _, c := range p.Compatible {
		if (c[0] == a && c[1] == b) || (c[0] == b && c[1] == a) {
			return false
		}
	}
	return true
}

// MayBeDark reports whether group g may be dark in flash or off mode.
func (p TrafficSignalParams) MayBeDark(g string) bool { return slices.Contains(p.Dark, g) }

// StartupFlash is how long the start-up flash lasts.
func (p TrafficSignalParams) StartupFlash() time.Duration {
	if p.StartupFlashMS == 0 {
		return DefaultStartupFlashMS * time.Millisecond
	}
	return time.Duration(p.StartupFlashMS) * time.Millisecond
}

// Signal group states in a traffic-signal's reported state.
const (
	Green  = "green"
	Yellow = "yellow"
	Red    = "red"
	Dark   = "dark"
	Flash  = "flash"
)

// Pedestrian head states (MUTCD §4E.02: WALKING PERSON, flashing and steady
// UPRAISED HAND).
const (
	Walk     = "walk"
	PedClear = "ped-clear"
	DontWalk = "dont-walk"
)

// Controller modes.
const (
	ModeNormal = "normal"
	ModeFlash  = "flash"
	ModeOff    = "off"
)

// trafficSignal validates a controller's reported state; see mmu.go for
// what it refuses and what it records as a fault.
//
//	{"mode": "normal"|"flash"|"off",
//	 "plan": "weekday-am", "cycle_s": 90,
//	 "boot": <unix ms when the controller powered on>,
//	 "fault": {...},                         set by the conflict monitor rules, never by the device
//	 "groups": {"<id>": {"state": "green"|"yellow"|"red"|"dark"|"flash",
//	                     "since": <unix ms when this state began>,
//	                     "next_change_ms": <time to change, optional>,
//	                     "ped": "walk"|"ped-clear"|"dont-walk", "ped_since": <unix ms>}}}
type trafficSignal struct{}

func (trafficSignal) Kind() string { return "traffic-signal" }

var trafficSignalFields = fields{
	"mode":    {typ: "string", enum: []string{ModeNormal, ModeFlash, ModeOff}},
	"plan":    {typ: "string"},
	"cycle_s": {typ: "number", min: 0, max: 600},
	// An operator's hold of one group green (the hold-phase command), while
	// it lasts.
	"hold": {typ: "object", sub: fields{
		"group":   {typ: "string"},
		"seconds": {typ: "number", min: 0, max: 600},
	}},
	"boot": {typ: "number", min: 1, max: 1 << 53},
	"fault": {typ: "object", sub: fields{
		"reason": {typ: "string"},
		"detail": {typ: "string"},
		"at":     {typ: "number", min: 0, max: 1 << 53},
		"boot":   {typ: "number", min: 0, max: 1 << 53},
	}},
	"groups": {typ: "object", dynamic: true, sub: fields{
		"state":          {typ: "string", enum: []string{Green, Yellow, Red, Dark, Flash}},
		"since":          {typ: "number", min: 0, max: 1 << 53},
		"next_change_ms": {typ: "number", min: 0, max: 3_600_000},
		"ped":            {typ: "string", enum: []string{Walk, PedClear, DontWalk}},
		"ped_since":      {typ: "number", min: 0, max: 1 << 53},
	}},
}

// ParseTrafficSignalParams decodes and checks a signal plan.
func ParseTrafficSignalParams(raw json.RawMessage) (TrafficSignalParams, error) {
	var p TrafficSignalParams
	// Read strictly first: the plan is flashed into the controller and
	// enrolled with the broker, and both must see the same one.
	obj, err := strictjson.DecodeObject(raw, 0)
	if err != nil {
		return p, fmt.Errorf("traffic-signal params: %w", err)
	}
	if _, ok := obj["conflicts"]; ok {
		return p, fmt.Errorf(`traffic-signal params: "conflicts" is not read: list the pairs that may be green together in "compatible" (every other pair conflicts, as on a conflict monitor's compatibility card)`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("traffic-signal params: %w", err)
	}
	if err := p.check(); err != nil {
		return p, fmt.Errorf("traffic-signal params: %w", err)
	}
	return p, nil
}

// check is the plan's consistency: known groups everywhere, timings inside
// their standard ranges, and rings and barriers that never put two
// conflicting groups green together.
func (p TrafficSignalParams) check() error {
	if len(p.Groups) == 0 {
		return fmt.Errorf("groups: at least one signal group is needed")
	}
	known := func(where, g string) error {
		if !slices.Contains(p.Groups, g) {
			return fmt.Errorf("%s: group %q is not in groups", where, g)
		}
		return nil
	}
	for _, c := range p.Compatible {
		for _, g := range c {
			if err := known("compatible", g); err != nil {
				return err
			}
		}
		if c[0] == c[1] {
			return fmt.Errorf("compatible: group %q is paired with itself", c[0])
		}
	}
	for _, g := range p.Dark {
		if err := known("dark", g); err != nil {
			return err
		}
	}
	if p.MinYellowMS < 3000 || p.MinYellowMS > 6000 {
		return fmt.Errorf("min_yellow_ms: %d is outside 3000..6000 (MUTCD §4D.26)", p.MinYellowMS)
	}
	if p.RedClearanceMS < 0 || p.RedClearanceMS > 6000 || p.MinGreenMS < 0 || p.MinGreenMS > 120_000 {
		return fmt.Errorf("min_green_ms must be 0..120000 and red_clearance_ms 0..6000")
	}
	if p.MaxHoldS < 0 || p.MaxHoldS > 600 {
		return fmt.Errorf("max_hold_s: %d is outside 0..600", p.MaxHoldS)
	}
	if p.StartupFlashMS < 0 || p.StartupFlashMS > 60_000 {
		return fmt.Errorf("startup_flash_ms: %d is outside 0..60000", p.StartupFlashMS)
	}
	for g, t := range p.Phases {
		if err := known("phases", g); err != nil {
			return err
		}
		if t.YellowMS != 0 && (t.YellowMS < 3000 || t.YellowMS > 6000) {
			return fmt.Errorf("phases.%s.yellow_ms: %d is outside 3000..6000 (MUTCD §4D.26)", g, t.YellowMS)
		}
		if t.MinGreenMS < 0 || t.MinGreenMS > 120_000 || t.RedClearanceMS < 0 || t.RedClearanceMS > 6000 || t.WalkMS < 0 || t.WalkMS > 60_000 || t.PedClearanceMS < 0 || t.PedClearanceMS > 60_000 {
			return fmt.Errorf("phases.%s: min_green_ms 0..120000, red_clearance_ms 0..6000, walk_ms and ped_clearance_ms 0..60000", g)
		}
	}
	if len(p.Rings) == 0 {
		return nil
	}
	return p.checkRings()
}

// checkRings: every group in exactly one ring, groups of one ring conflict
// (a ring times one phase at a time), and any two groups of different rings
// on the same side of a barrier are compatible, as dual-ring operation
// shows them together.
func (p TrafficSignalParams) checkRings() error {
	seen := map[string]int{}
	for i, r := range p.Rings {
		for _, g := range r {
			if err := p.knownIn("rings", g); err != nil {
				return err
			}
			if _, dup := seen[g]; dup {
				return fmt.Errorf("rings: group %q is in more than one place", g)
			}
			seen[g] = i
		}
	}
	if len(seen) != len(p.Groups) {
		return fmt.Errorf("rings: every group must be in one ring (%d of %d are)", len(seen), len(p.Groups))
	}
	side := map[string]int{}
	for i, b := range p.Barriers {
		for _, g := range b {
			if err := p.knownIn("barriers", g); err != nil {
				return err
			}
			if _, dup := side[g]; dup {
				return fmt.Errorf("barriers: group %q is on more than one side", g)
			}
			side[g] = i
		}
	}
	if len(side) != len(p.Groups) {
		return fmt.Errorf("barriers: every group must be on one side of a barrier (%d of %d are)", len(side), len(p.Groups))
	}
	for _, a := range p.Groups {
		for _, b := range p.Groups {
			if a < b && seen[a] != seen[b] && side[a] == side[b] && p.Conflict(a, b) {
				return fmt.Errorf("rings: groups %s and %s run together (different rings, same side of the barrier) but are not compatible", a, b)
			}
		}
	}
	for _, r := range p.Rings {
		for i := 1; i < len(r); i++ {
			if side[r[i]] < side[r[i-1]] {
				return fmt.Errorf("rings: group %s comes after %s but sits before its barrier", r[i], r[i-1])
			}
		}
	}
	return nil
}

func (p TrafficSignalParams) knownIn(where, g string) error {
	if !slices.Contains(p.Groups, g) {
		return fmt.Errorf("%s: group %q is not in groups", where, g)
	}
	return nil
}

func (trafficSignal) ValidateParams(params json.RawMessage) error {
	_, err := ParseTrafficSignalParams(params)
	return err
}

func (ts trafficSignal) ValidateReported(params json.RawMessage, prev, next map[string]any) error {
	return ts.ValidateAt(time.Now(), params, prev, next)
}
