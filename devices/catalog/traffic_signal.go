package catalog

import (
	"slices"

	"github.com/signet-city/signet/devices/kinds"
)

// The traffic-signal commands. Flash is the fail-safe state of a signal
// controller (MUTCD §4D.30-31: all-red flash, or yellow flash on the major
// street and red on the minor), so entering it is always allowed; the
// controller enters it at a safe point of its cycle (the end of a yellow
// change interval or of a red clearance), never by cutting a green short.
// Leaving it goes through the start-up sequence (all red for the red
// clearance, then the first phase green).

func trafficSignal() []*Command {
	return []*Command{
		{
			Name:    "set-plan",
			Summary: "switches to a signal plan the intersection's params define, at the end of the current cycle",
			Args:    Schema{{Name: "plan", Type: String, Required: true, MaxLen: 64, Doc: "the plan's name in params.plans"}},
			Sets:    []string{"plan"},
			Safety:  "the plan exists in params.plans, names only the intersection's groups, and no phase holds two conflicting groups",
			safe:    safePlan,
			desired: func(a Args) map[string]any { return map[string]any{"plan": a.String("plan")} },
		},
		{
			Name:    "flash",
			Summary: "puts the signal in flash (MUTCD §4D.30-31), entered at a safe point of the cycle",
			Args:    Schema{{Name: "reason", Type: String, MaxLen: 128, Doc: "why, for the log"}},
			Sets:    []string{"mode"},
			Safety:  "always allowed: flash is the controller's fail-safe state",
			desired: func(Args) map[string]any { return map[string]any{"mode": "flash"} },
		},
		{
			Name:    "resume",
			Summary: "leaves flash for normal operation through the start-up sequence (all red, then the first phase)",
			Args:    Schema{},
			Sets:    []string{"mode"},
			Safety:  "the intersection's params define at least one phase (always true for enrolled params)",
			desired: func(Args) map[string]any { return map[string]any{"mode": "normal"} },
		},
		{
			Name:    "hold-phase",
			Summary: "holds a signal group green for seconds, then the cycle goes on",
			Args: Schema{
				{Name: "group", Type: String, Required: true, MaxLen: 16, Doc: "the signal group"},
				{Name: "seconds", Type: Number, Required: true, Min: 1, Max: 600, Doc: "how long to hold it green"},
			},
			Sets:   []string{"hold"},
			Safety: "the group is the intersection's, seconds is at most params.max_hold_s, and the signal is in normal mode",
			safe:   safeHold,
			desired: func(a Args) map[string]any {
				return map[string]any{"hold": map[string]any{"group": a.String("group"), "seconds": a.Number("seconds")}}
			},
		},
	}
}

func signalParams(s State) (kinds.TrafficSignalParams, error) {
	p, err := kinds.ParseTrafficSignalParams(s.Params)
	if err != nil {
		return p, unsafe("params", "%v", err)
	}
	return p, nil
}

// SafePlan reports whether phases can run on an intersection with params p:
// every group is one of p's, and no phase holds two groups that conflict
// (NEMA TS 2 conflict monitor: conflicting greens never at once).
func SafePlan(p kinds.TrafficSignalParams, phases [][]string) error {
	if len(phases) == 0 {
		return unsafe("payload.plan", "the plan has no phases")
	}
	for i, ph := range phases {
		if len(ph) == 0 {
			return unsafe("payload.plan", "phase %d is empty", i+1)
		}
		for _, g := range ph {
			if !slices.Contains(p.Groups, g) {
				return unsafe("payload.plan", "phase %d: group %q is not one of this intersection's %v", i+1, g, p.Groups)
			}
		}
		for _, a := range ph {
			for _, b := range ph {
				if a < b && p.Conflict(a, b) {
					return unsafe("payload.plan", "phase %d shows conflicting groups %s and %s green at once", i+1, a, b)
				}
			}
		}
	}
	return nil
}

func safePlan(s State, a Args) error {
	p, err := signalParams(s)
	if err != nil {
		return err
	}
	name := a.String("plan")
	phases, ok := p.Plans[name]
	if !ok {
		return unsafe("payload.plan", "%q is not a plan of this intersection's params", name)
	}
	return SafePlan(p, phases)
}

func safeHold(s State, a Args) error {
	p, err := signalParams(s)
	if err != nil {
		return err
	}
	g := a.String("group")
	if !slices.Contains(p.Groups, g) {
		return unsafe("payload.group", "%q is not a signal group of this intersection (%v)", g, p.Groups)
	}
	if secs := a.Number("seconds"); secs > float64(p.MaxHoldS) {
		return unsafe("payload.seconds", "a hold of %v s is longer than this intersection's max_hold_s %d", secs, p.MaxHoldS)
	}
	if mode, _ := s.Reported["mode"].(string); mode != "" && mode != "normal" {
		return unsafe("payload", "the signal is in mode %q: a hold needs normal operation", mode)
	}
	return nil
}
