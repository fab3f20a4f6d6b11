package kinds

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/signet-city/signet/signing"
)

// A traffic signal's reported state is judged as a NEMA TS 2 Malfunction
// Management Unit (MMU, the conflict monitor) judges the cabinet's outputs,
// with one difference: a report can also be impossible. Two outcomes, by
// what the report says about the controller:
//
//   - Impossible (invalid_state, refused, twin unchanged): a report no
//     working or failing controller could send about itself: malformed or
//     unknown fields, a plan the device does not have, a mode contradicted
//     by its own heads (green in flash), a transition no controller output
//     makes (red to yellow, red to dark, yellow to green), time going
//     backwards, a `since` in the future beyond signing.ClockSkew or before
//     the boot, a boot older than the last one.
//   - Fault (accepted, recorded): a well-formed report of outputs an MMU
//     trips on: a conflict (two groups not declared compatible showing green
//     or yellow), a green shorter than its minimum or ending without yellow,
//     a yellow shorter than its change interval (MUTCD §4D.26), a green that
//     starts before the conflicting groups' red clearance, a pedestrian walk
//     without its green, a short pedestrian clearance, or a dark head the
//     plan does not allow. A real controller with a failed load switch sends
//     exactly that, signed; refusing it would hide the failure. The twin
//     keeps the state as reported and gains "fault", which stays until the
//     controller reports a new boot (an MMU latches a fault until reset).
//     While it stands the intersection must be in flash: a report of green
//     or yellow in normal mode is then impossible (the MMU holds it in flash).

// Fault is what the conflict monitor rules found in a report.
type Fault struct {
	Reason string // a stable name: conflict, short-green, skipped-yellow, ...
	Detail string
	Group  string // the JSON path's group, for the message
}

// Fault reasons.
const (
	FaultConflict      = "conflict"
	FaultShortGreen    = "short-green"
	FaultSkippedYellow = "skipped-yellow"
	FaultShortYellow   = "short-yellow"
	FaultRedClearance  = "red-clearance"
	FaultPedConflict   = "ped-conflict"
	FaultShortPedClear = "short-ped-clearance"
	FaultDark          = "red-fail"
)

// FaultField is the reported field that holds a recorded fault.
const FaultField = "fault"

// DefaultPlanName is the plan a controller reports when it runs the
// sequence of its params (rings and barriers) rather than a named plan.
const DefaultPlanName = "fixed-time"

// ValidateAt is ValidateReported at the time now (the broker's clock, or a
// simulated one). It refuses an impossible report with invalid_state; for a
// report an MMU trips on it returns nil and records the fault in
// next["fault"], so the merged state the twin keeps shows it (see above).
func (trafficSignal) ValidateAt(now time.Time, params json.RawMessage, prev, next map[string]any) error {
	f, err := MonitorTrafficSignal(now, params, prev, next)
	if err != nil {
		return err
	}
	ClearFaultOnBoot(prev, next)
	if f != nil && next[FaultField] == nil {
		// The first fault of a boot is kept: it is the one that tripped.
		rec := map[string]any{"reason": f.Reason, "detail": f.Detail, "at": float64(now.UnixMilli())}
		if b, ok := next["boot"]; ok {
			rec["boot"] = b
		}
		next[FaultField] = rec
	}
	return nil
}

// MonitorTrafficSignal judges next against prev at now, without changing
// either: an error (invalid_state) for an impossible report, a *Fault for
// one an MMU trips on, or neither. A controller runs it on its own outputs
// to go to flash as its MMU would; the broker runs it through ValidateAt.
func MonitorTrafficSignal(now time.Time, params json.RawMessage, prev, next map[string]any) (*Fault, error) {
	if err := trafficSignalFields.check("", next); err != nil {
		return nil, err
	}
	p, err := ParseTrafficSignalParams(params)
	if err != nil {
		return nil, invalid("params", "%v", err)
	}
	if !reflect.DeepEqual(prev[FaultField], next[FaultField]) {
		return nil, invalid(FaultField, "is set by the broker's conflict monitor rules, never by the device")
	}
	if plan, ok := next["plan"].(string); ok && next["plan"] != prev["plan"] && !p.HasPlan(plan) {
		return nil, invalid("plan", "%q is not a plan this controller has (%v)", plan, p.PlanNames())
	}
	cur, before := groupsOf(next), groupsOf(prev)
	for _, id := range sortedIDs(cur) {
		if !slices.Contains(p.Groups, id) {
			return nil, invalid("groups."+id, "not a signal group of this intersection (%v)", p.Groups)
		}
		if cur[id].state != "" && cur[id].since == 0 {
			return nil, invalid("groups."+id+".since", "missing: every state says when it began")
		}
	}
	bootNow, _ := next["boot"].(float64)
	bootPrev, _ := prev["boot"].(float64)
	if bootNow < bootPrev {
		return nil, invalid("boot", "goes back (%v < %v)", bootNow, bootPrev)
	}
	// A new boot: a boot later than the one the twin knows. The first
	// report a twin ever gets is not one: the controller may have been
	// running long before.
	newBoot := bootPrev > 0 && bootNow > bootPrev
	if err := checkTimes(now, bootNow, cur); err != nil {
		return nil, err
	}
	mode, _ := next["mode"].(string)
	if mode == "" {
		mode = ModeNormal
	}
	prevMode, _ := prev["mode"].(string)
	if newBoot {
		// A restart: the monitor starts again from what the controller
		// shows now, which must be its start-up sequence.
		before, prevMode = map[string]groupState{}, ""
		for _, id := range sortedIDs(cur) {
			if cur[id].active() {
				return nil, invalid("groups."+id, "%s in the first report of a boot: a controller starts with flash, then all red", cur[id].state)
			}
		}
	}
	latched := prev[FaultField] != nil && !newBoot
	return judge(p, mode, prevMode, latched, before, cur)
}

// ClearFaultOnBoot removes a latched fault from next when next reports a
// new boot: a restart resets the conflict monitor. It is part of
// ValidateAt, and exported for controllers that track their own state.
func ClearFaultOnBoot(prev, next map[string]any) {
	b1, _ := prev["boot"].(float64)
	b2, _ := next["boot"].(float64)
	if b1 > 0 && b2 > b1 {
		delete(next, FaultField)
	}
}

// checkTimes: no state begins in the future beyond the clock skew, or
// before the boot it is reported in.
func checkTimes(now time.Time, boot float64, cur map[string]groupState) error {
	limit := float64(now.Add(signing.ClockSkew).UnixMilli())
	if boot > limit {
		return invalid("boot", "%v is in the future (beyond the clock skew of %s)", boot, signing.ClockSkew)
	}
	for _, id := range sortedIDs(cur) {
		g := cur[id]
		for field, t := range map[string]float64{"since": g.since, "ped_since": g.pedSince} {
			if t > limit {
				return invalid("groups."+id+"."+field, "%v is in the future (beyond the clock skew of %s)", t, signing.ClockSkew)
			}
			if t != 0 && t < boot {
				return invalid("groups."+id+"."+field, "%v is before the boot at %v", t, boot)
			}
		}
	}
	return nil
}

// judge applies the mode's rules and the transition rules: impossible
// reports first (an error), then the first fault found.
func judge(p TrafficSignalParams, mode, prevMode string, latched bool, before, cur map[string]groupState) (*Fault, error) {
	ids := sortedIDs(cur)
	var fault *Fault
	trip := func(reason, group, format string, a ...any) {
		if fault == nil {
			fault = &Fault{Reason: reason, Group: group, Detail: fmt.Sprintf(format, a...)}
		}
	}
	for _, id := range ids {
		g := cur[id]
		path := "groups." + id
		if mode != ModeNormal {
			switch {
			case g.active():
				return nil, invalid(path, "%s in %s mode: in flash or off nothing is green or yellow", g.state, mode)
			case mode == ModeOff && g.state != Dark:
				return nil, invalid(path, "%s in off mode: an intersection that is off is dark", g.state)
			case g.ped == Walk || g.ped == PedClear:
				return nil, invalid(path+".ped", "%s in %s mode", g.ped, mode)
			case g.state == Dark && !p.MayBeDark(id):
				trip(FaultDark, id, "group %s is dark; the plan allows dark only for %v", id, p.Dark)
			}
			continue
		}
		if g.state == Dark || g.state == Flash {
			return nil, invalid(path, "%s in normal mode: a head in normal operation is green, yellow or red", g.state)
		}
		if latched && g.active() {
			return nil, invalid(path, "%s while the intersection is in fault: the conflict monitor holds it in flash until the controller restarts", g.state)
		}
		old, seen := before[id]
		if !seen {
			continue
		}
		if g.since < old.since {
			return nil, invalid(path+".since", "goes back in time (%v < %v)", g.since, old.since)
		}
		if g.pedSince < old.pedSince {
			return nil, invalid(path+".ped_since", "goes back in time (%v < %v)", g.pedSince, old.pedSince)
		}
		if old.state == g.state {
			continue
		}
		t := p.Timing(id)
		lasted := g.since - old.since
		switch {
		case old.state == Green && g.state == Yellow:
			if lasted < float64(t.MinGreenMS) {
				trip(FaultShortGreen, id, "group %s was green %v ms, less than its minimum green %d ms", id, lasted, t.MinGreenMS)
			}
		case old.state == Green && g.state == Red:
			trip(FaultSkippedYellow, id, "group %s went from green to red without the yellow change interval", id)
		case old.state == Yellow && g.state == Red:
			if lasted < float64(t.YellowMS) {
				trip(FaultShortYellow, id, "group %s was yellow %v ms, less than its yellow change interval %d ms (MUTCD §4D.26)", id, lasted, t.YellowMS)
			}
		case old.state == Red && g.state == Green:
			// The red clearance is checked below, against every group.
		case (old.state == Flash || old.state == Dark) && g.state == Red && prevMode != ModeNormal:
			// Leaving flash or off through all red (the start-up sequence).
		default:
			return nil, invalid(path, "%s to %s is not a transition a signal makes (green, yellow, red, then green again)", old.state, g.state)
		}
	}
	if mode != ModeNormal {
		return fault, nil
	}
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			if cur[a].active() && cur[b].active() && p.Conflict(a, b) {
				trip(FaultConflict, a, "groups %s (%s) and %s (%s) at once are not declared compatible", a, cur[a].state, b, cur[b].state)
			}
		}
	}
	for _, id := range ids {
		g := cur[id]
		old, seen := before[id]
		// A green it saw start (not the first report of a group, which may
		// have been green for long): the conflicting groups cleared first.
		if seen && g.state == Green && old.state != Green {
			for _, o := range ids {
				other := cur[o]
				if o != id && other.state == Red && p.Conflict(id, o) && g.since-other.since < float64(p.Timing(o).RedClearanceMS) {
					trip(FaultRedClearance, id, "group %s green %v ms after conflicting group %s turned red, less than its red clearance %d ms", id, g.since-other.since, o, p.Timing(o).RedClearanceMS)
				}
			}
		}
		if (g.ped == Walk || g.ped == PedClear) && g.state != Green {
			trip(FaultPedConflict, id, "pedestrian %s on group %s while it is %s", g.ped, id, g.state)
		}
		if old.ped == PedClear && g.ped == DontWalk {
			if lasted := g.pedSince - old.pedSince; lasted < float64(p.Timing(id).PedClearanceMS) {
				trip(FaultShortPedClear, id, "pedestrian clearance of group %s lasted %v ms, less than %d ms", id, lasted, p.Timing(id).PedClearanceMS)
			}
		}
	}
	return fault, nil
}

func sortedIDs(m map[string]groupState) []string {
	return slices.Sorted(maps.Keys(m))
}

// groupState is one signal group as reported.
type groupState struct {
	state    string
	since    float64
	ped      string
	pedSince float64
}

func (g groupState) active() bool { return g.state == Green || g.state == Yellow }

func groupsOf(m map[string]any) map[string]groupState {
	out := map[string]groupState{}
	gs, _ := m["groups"].(map[string]any)
	for id, v := range gs {
		g, _ := v.(map[string]any)
		s, _ := g["state"].(string)
		t, _ := g["since"].(float64)
		ped, _ := g["ped"].(string)
		pt, _ := g["ped_since"].(float64)
		out[id] = groupState{state: s, since: t, ped: ped, pedSince: pt}
	}
	return out
}

// ValidateCommanded is ValidateReported for a state an operator asks for
// (a command's desired state, SPEC §5 domain safety): besides what is
// impossible, a state the profile would only accept as a malfunction (a
// traffic signal's conflict, short yellow, ...) is refused. A controller
// that shows it is failing; no one may ask for it.
func ValidateCommanded(p Profile, params json.RawMessage, prev, next map[string]any) error {
	next = maps.Clone(next) // the profile may record a fault in it
	if err := p.ValidateReported(params, prev, next); err != nil {
		return err
	}
	if f, ok := next[FaultField].(map[string]any); ok && !reflect.DeepEqual(next[FaultField], prev[FaultField]) {
		return invalid("groups", "a conflict monitor would trip on it (%v: %v)", f["reason"], f["detail"])
	}
	return nil
}
