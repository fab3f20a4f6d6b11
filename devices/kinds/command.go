package kinds

import (
	"encoding/json"
	"maps"
	"slices"
)

// CheckCommand is the domain safety of an operator command, on
// top of the catalogue's own rule: desired is the command's desired patch,
// reported the device's reported state. A patch that names a traffic
// signal's heads is judged as the state to be in (ValidateCommanded). The
// mode commands are carried out by the controller's own sequence, so they
// are judged by what they ask for:
//
//   - resume (mode normal) and hold-phase are refused while the conflict
//     monitor's fault stands: an MMU holds the intersection in flash until
//     it is reset (a NEMA TS 2 MMU latches its faults), which for the
//     controller is a new boot, never an operator's command;
//   - set-plan is refused for a plan the intersection's params do not
//     define;
//   - flash is always allowed: it is the fail-safe state.
//
// Other kinds' commands are left to the catalogue. Errors are
// *signing.Rejection with ReasonInvalidState; the caller reports them as
// unsafe_command.
func CheckCommand(p Profile, params json.RawMessage, reported, desired map[string]any) error {
	if _, heads := desired["groups"]; heads {
		next := maps.Clone(reported)
		if next == nil {
			next = map[string]any{}
		}
		mergeInto(next, desired)
		return ValidateCommanded(p, params, reported, next)
	}
	if p.Kind() != (trafficSignal{}).Kind() {
		return nil
	}
	tp, err := ParseTrafficSignalParams(params)
	if err != nil {
		return invalid("params", "%v", err)
	}
	fault, latched := reported[FaultField].(map[string]any)
	if latched && (desired["mode"] == ModeNormal || desired["hold"] != nil) {
		return invalid("mode", "the conflict monitor's %v fault stands (%v): the intersection stays in flash until the controller is reset", fault["reason"], fault["detail"])
	}
	if plan, ok := desired["plan"].(string); ok && !tp.HasPlan(plan) {
		return invalid("plan", "%q is not a plan of this intersection (%v)", plan, tp.PlanNames())
	}
	return nil
}

// mergeInto applies an RFC 7396 merge patch to m (m's nested objects are
// copied before they change).
func mergeInto(m, patch map[string]any) {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			sub, ok := m[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
			} else {
				sub = maps.Clone(sub)
			}
			mergeInto(sub, pv)
			m[k] = sub
		default:
			m[k] = v
		}
	}
}

// HasPlan reports whether name is a plan the controller can run: its
// params' sequence (DefaultPlanName) or one of its plans.
func (p TrafficSignalParams) HasPlan(name string) bool {
	_, ok := p.Plans[name]
	return ok || name == DefaultPlanName
}

// PlanNames are the plans the controller can run, sorted.
func (p TrafficSignalParams) PlanNames() []string {
	out := []string{DefaultPlanName}
	for n := range p.Plans {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
