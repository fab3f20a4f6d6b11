package kinds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// TrafficSignalParams is an intersection's signal plan, flashed into the
// controller and enrolled with it:
//
//	{"groups": ["1","2","3","4"],              NEMA-style signal group ids
//	 "conflicts": [["1","2"],["3","4"]],       pairs never green or yellow together
//	 "min_green_ms": 5000,
//	 "min_yellow_ms": 3000,                    yellow change interval (MUTCD §4D.26: 3–6 s)
//	 "red_clearance_ms": 1000}                 all-red before a conflicting green (MUTCD §4D.26)
type TrafficSignalParams struct {
	Groups         []string    `json:"groups"`
	Conflicts      [][2]string `json:"conflicts"`
	MinGreenMS     int64       `json:"min_green_ms"`
	MinYellowMS    int64       `json:"min_yellow_ms"`
	RedClearanceMS int64       `json:"red_clearance_ms"`
	// Plans are the signal plans an operator may switch to (the set-plan
	// command, devices/catalog): each a sequence of phases, a phase being
	// the groups green together. A plan that would show conflicting greens
	// is refused when commanded (unsafe_command), not at enrolment.
	Plans map[string][][]string `json:"plans,omitempty"`
	// MaxHoldS is the longest an operator may hold a group green (the
	// hold-phase command); 0 allows no hold.
	MaxHoldS int64 `json:"max_hold_s,omitempty"`
}

// Signal group states in a traffic-signal's reported state.
const (
	Green  = "green"
	Yellow = "yellow"
	Red    = "red"
	Dark   = "dark"
	Flash  = "flash"
)

// trafficSignal validates SPaT-like reported state:
//
//	{"mode": "normal"|"flash"|"off",
//	 "plan": "weekday-am", "cycle_s": 90,
//	 "groups": {"<id>": {"state": "green"|"yellow"|"red"|"dark"|"flash",
//	                     "since": <unix ms when this state began>,
//	                     "next_change_ms": <time to change, optional>}}}
//
// In mode "normal" it refuses (invalid_state): two conflicting groups green or
// yellow at once; a green that ends other than in yellow; a yellow that ends
// other than in red, or before min_yellow_ms; a green that starts before
// every conflicting group has been red for red_clearance_ms (the NEMA TS 2
// conflict monitor's rules).
type trafficSignal struct{}

func (trafficSignal) Kind() string { return "traffic-signal" }

var trafficSignalFields = fields{
	"mode":    {typ: "string", enum: []string{"normal", "flash", "off"}},
	"plan":    {typ: "string"},
	"cycle_s": {typ: "number", min: 0, max: 600},
	// An operator's hold of one group green (the hold-phase command), while
	// it lasts.
	"hold": {typ: "object", sub: fields{
		"group":   {typ: "string"},
		"seconds": {typ: "number", min: 0, max: 600},
	}},
	"groups": {typ: "object", dynamic: true, sub: fields{
		"state":          {typ: "string", enum: []string{Green, Yellow, Red, Dark, Flash}},
		"since":          {typ: "number", min: 0, max: 1 << 53},
		"next_change_ms": {typ: "number", min: 0, max: 3_600_000},
	}},
}

// ParseTrafficSignalParams decodes and checks a signal plan.
func ParseTrafficSignalParams(raw json.RawMessage) (TrafficSignalParams, error) {
	var p TrafficSignalParams
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("traffic-signal params: %w", err)
	}
	if len(p.Groups) == 0 {
		return p, fmt.Errorf("traffic-signal params: groups: at least one signal group is needed")
	}
	for _, c := range p.Conflicts {
		for _, g := range c {
			if !slices.Contains(p.Groups, g) {
				return p, fmt.Errorf("traffic-signal params: conflicts: group %q is not in groups", g)
			}
		}
		if c[0] == c[1] {
			return p, fmt.Errorf("traffic-signal params: conflicts: group %q conflicts with itself", c[0])
		}
	}
	if p.MinYellowMS < 3000 || p.MinYellowMS > 6000 {
		return p, fmt.Errorf("traffic-signal params: min_yellow_ms: %d is outside 3000..6000 (MUTCD §4D.26)", p.MinYellowMS)
	}
	if p.RedClearanceMS < 0 || p.RedClearanceMS > 6000 || p.MinGreenMS < 0 {
		return p, fmt.Errorf("traffic-signal params: min_green_ms and red_clearance_ms must be 0..6000")
	}
	if p.MaxHoldS < 0 || p.MaxHoldS > 600 {
		return p, fmt.Errorf("traffic-signal params: max_hold_s: %d is outside 0..600", p.MaxHoldS)
	}
	return p, nil
}

func (trafficSignal) ValidateParams(params json.RawMessage) error {
	_, err := ParseTrafficSignalParams(params)
	return err
}

// groupState is one signal group as reported.
type groupState struct {
	state string
	since float64
}

func groupsOf(m map[string]any) map[string]groupState {
	out := map[string]groupState{}
	gs, _ := m["groups"].(map[string]any)
	for id, v := range gs {
		g, _ := v.(map[string]any)
		s, _ := g["state"].(string)
		t, _ := g["since"].(float64)
		out[id] = groupState{state: s, since: t}
	}
	return out
}

func (ts trafficSignal) ValidateReported(params json.RawMessage, prev, next map[string]any) error {
	if err := trafficSignalFields.check("", next); err != nil {
		return err
	}
	p, err := ParseTrafficSignalParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	now, before := groupsOf(next), groupsOf(prev)
	for id, g := range now {
		if !slices.Contains(p.Groups, id) {
			return invalid("groups."+id, "not a signal group of this intersection (%v)", p.Groups)
		}
		if g.state != "" && g.since == 0 {
			return invalid("groups."+id+".since", "missing: every state says when it began")
		}
	}
	if mode, _ := next["mode"].(string); mode != "" && mode != "normal" {
		return nil // flash or off: no phase sequence to check
	}
	active := func(s string) bool { return s == Green || s == Yellow }
	for _, c := range p.Conflicts {
		a, b := now[c[0]], now[c[1]]
		if active(a.state) && active(b.state) {
			return invalid("groups", "conflicting groups %s (%s) and %s (%s) at once", c[0], a.state, c[1], b.state)
		}
	}
	for id, g := range now {
		old, seen := before[id]
		if !seen || old.state == g.state {
			continue
		}
		path := "groups." + id
		if g.since < old.since {
			return invalid(path+".since", "goes back in time (%v < %v)", g.since, old.since)
		}
		switch {
		case old.state == Green && g.state != Yellow:
			return invalid(path, "green ended in %s without the yellow change interval", g.state)
		case old.state == Yellow && g.state != Red:
			return invalid(path, "yellow ended in %s; the yellow change interval ends in red", g.state)
		case old.state == Yellow && g.since-old.since < float64(p.MinYellowMS):
			return invalid(path, "yellow lasted %v ms, less than min_yellow_ms %d", g.since-old.since, p.MinYellowMS)
		case g.state == Green:
			for _, c := range p.Conflicts {
				other := ""
				if c[0] == id {
					other = c[1]
				} else if c[1] == id {
					other = c[0]
				}
				if o, ok := now[other]; other != "" && ok && o.state == Red && g.since-o.since < float64(p.RedClearanceMS) {
					return invalid(path, "green %v ms after conflicting group %s turned red, less than red_clearance_ms %d", g.since-o.since, other, p.RedClearanceMS)
				}
			}
		}
	}
	return nil
}
