package kinds

import (
	"encoding/json"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

// signalPlan: groups 2 and 4 conflict (no pair is declared compatible), 6
// may run with 2; 8 may be dark.
var signalPlan = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"]],"dark":["8"],` +
	`"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000,"phases":{"6":{"walk_ms":3000,"ped_clearance_ms":4000}}}`)

var clock = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// at is a time in ms, s seconds after the boot used by the cases.
func at(s float64) float64 { return float64(clock.UnixMilli()) - 600_000 + s*1000 }

// sig builds a reported state: mode, boot (seconds, 0 for none) and
// groups as id, state, since (seconds) triples.
func sig(mode string, boot float64, kv ...any) map[string]any {
	g := map[string]any{}
	for i := 0; i < len(kv); i += 3 {
		g[kv[i].(string)] = map[string]any{"state": kv[i+1], "since": at(kv[i+2].(float64))}
	}
	m := map[string]any{"groups": g}
	if mode != "" {
		m["mode"] = mode
	}
	if boot != 0 {
		m["boot"] = at(boot)
	}
	return m
}

func with(m map[string]any, k string, v any) map[string]any {
	m = maps.Clone(m)
	m[k] = v
	return m
}

// TestTrafficSignalProbes walks each probe of an MMU's rules through the
// profile, at a fixed clock: each is refused (invalid_state at a field), or
// accepted with a fault recorded, or accepted as honest.
func TestTrafficSignalProbes(t *testing.T) {
	honest := sig("normal", 1, "2", "green", 10.0, "4", "red", 5.0, "6", "green", 10.0, "8", "red", 5.0)
	yellow2 := sig("normal", 1, "2", "yellow", 20.0, "4", "red", 5.0, "6", "green", 10.0, "8", "red", 5.0)
	red2 := sig("normal", 1, "2", "red", 24.0, "4", "red", 5.0, "6", "green", 10.0, "8", "red", 5.0)
	allRed := sig("normal", 1, "2", "red", 24.0, "4", "red", 5.0, "6", "red", 24.0, "8", "red", 5.0)
	flash := sig("flash", 1, "2", "flash", 1.0, "4", "flash", 1.0, "6", "flash", 1.0, "8", "flash", 1.0)
	faulted := with(honest, FaultField, map[string]any{"reason": "conflict", "detail": "x", "at": at(9)})
	cases := []struct {
		name       string
		prev, next map[string]any
		want       string // "": accepted; "fault:<reason>"; or "invalid:<field>"
	}{
		{"honest first report", map[string]any{}, honest, ""},
		{"green to yellow after min green", honest, yellow2, ""},
		{"yellow to red after the change interval", yellow2, red2, ""},
		{"4 green 500 ms after 2 turned red", allRed, with(allRed, "groups", sig("", 0, "2", "red", 24.0, "4", "green", 24.5, "6", "red", 24.0, "8", "red", 5.0)["groups"]), "fault:red-clearance"},
		{"4 green after the red clearance", allRed, with(allRed, "groups", sig("", 0, "2", "red", 24.0, "4", "green", 25.0, "6", "red", 24.0, "8", "red", 5.0)["groups"]), ""},
		{"conflicting greens in normal mode", map[string]any{}, sig("normal", 1, "2", "green", 10.0, "4", "green", 10.0), "fault:conflict"},
		{"green and conflicting yellow", map[string]any{}, sig("normal", 1, "2", "green", 10.0, "4", "yellow", 10.0), "fault:conflict"},
		{"conflicting greens in flash mode", flash, sig("flash", 1, "2", "green", 10.0, "4", "green", 10.0), "invalid:groups.2"},
		{"conflicting greens with mode off", map[string]any{}, sig("off", 1, "2", "green", 10.0, "4", "green", 10.0), "invalid:groups.2"},
		{"flash with a group dark the plan allows", map[string]any{}, sig("flash", 1, "2", "flash", 1.0, "8", "dark", 1.0), ""},
		{"flash with a group dark the plan does not allow", map[string]any{}, sig("flash", 1, "2", "dark", 1.0), "fault:red-fail"},
		{"1 ms green", sig("normal", 1, "2", "green", 10.0), sig("normal", 1, "2", "yellow", 10.001), "fault:short-green"},
		{"green straight to red", honest, with(honest, "groups", sig("", 0, "2", "red", 30.0)["groups"]), "fault:skipped-yellow"},
		{"short yellow", yellow2, with(red2, "groups", sig("", 0, "2", "red", 23.999)["groups"]), "fault:short-yellow"},
		{"red to dark in normal mode", red2, with(red2, "groups", sig("", 0, "2", "dark", 30.0)["groups"]), "invalid:groups.2"},
		{"red to yellow in normal mode", red2, with(red2, "groups", sig("", 0, "2", "yellow", 30.0)["groups"]), "invalid:groups.2"},
		{"yellow back to green", yellow2, with(yellow2, "groups", sig("", 0, "2", "green", 30.0)["groups"]), "invalid:groups.2"},
		{"flash to green without the all red", flash, sig("normal", 1, "2", "green", 20.0, "4", "flash", 1.0), "invalid:groups.2"},
		{"flash to all red, in normal mode", flash, sig("normal", 1, "2", "red", 7.0, "4", "red", 7.0, "6", "red", 7.0, "8", "red", 7.0), ""},
		{"since in 2255", map[string]any{}, map[string]any{"groups": map[string]any{"2": map[string]any{"state": "red", "since": float64(time.Date(2255, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())}}}, "invalid:groups.2.since"},
		{"since within the clock skew", map[string]any{}, map[string]any{"groups": map[string]any{"2": map[string]any{"state": "red", "since": float64(clock.Add(signing.ClockSkew).UnixMilli())}}}, ""},
		{"since before the boot", map[string]any{}, sig("normal", 5, "2", "red", 1.0), "invalid:groups.2.since"},
		{"time goes back", honest, with(honest, "groups", sig("", 0, "2", "yellow", 5.0)["groups"]), "invalid:groups.2.since"},
		{"boot goes back", honest, with(honest, "boot", at(0)), "invalid:boot"},
		{"reboot mid-cycle: flash from the new boot", honest, sig("flash", 40, "2", "flash", 40.0, "4", "flash", 40.0, "6", "flash", 40.0, "8", "flash", 40.0), ""},
		{"reboot straight into green", honest, sig("normal", 40, "2", "green", 40.0, "4", "red", 40.0, "6", "red", 40.0, "8", "red", 40.0), "invalid:groups.2"},
		{"reboot keeping old since", honest, sig("flash", 40, "2", "flash", 40.0, "4", "red", 5.0, "6", "flash", 40.0, "8", "flash", 40.0), "invalid:groups.4.since"},
		{"device sets a fault", honest, with(honest, FaultField, map[string]any{"reason": "none"}), "invalid:fault"},
		{"device clears a fault", faulted, honest, "invalid:fault"},
		{"green while in fault", faulted, with(yellow2, FaultField, faulted[FaultField]), "invalid:groups.2"},
		{"flash while in fault", faulted, with(flash, FaultField, faulted[FaultField]), ""},
		{"walk without its green", map[string]any{}, map[string]any{"mode": "normal", "groups": map[string]any{"6": map[string]any{"state": "red", "since": at(1), "ped": "walk", "ped_since": at(1)}}}, "fault:ped-conflict"},
		{"unknown group", map[string]any{}, sig("", 0, "9", "red", 1.0), "invalid:groups.9"},
		{"unknown state", map[string]any{}, sig("", 0, "2", "purple", 1.0), "invalid:groups.2.state"},
		{"unknown field", map[string]any{}, map[string]any{"colour": "x"}, "invalid:colour"},
	}
	for _, c := range cases {
		next := deepCopy(c.next)
		err := trafficSignal{}.ValidateAt(clock, signalPlan, c.prev, next)
		got := ""
		var rej *signing.Rejection
		switch {
		case errors.As(err, &rej) && rej.Reason == signing.ReasonInvalidState:
			got = "invalid:" + rej.Field
		case err != nil:
			got = "error:" + err.Error()
		case next[FaultField] != nil && c.prev[FaultField] == nil:
			got = "fault:" + next[FaultField].(map[string]any)["reason"].(string)
		}
		if got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

// TestAnEmptyCompatibilityListAcceptsNothingConcurrent: default-conflict,
// as an MMU's card: with no pair declared, any two greens trip.
func TestAnEmptyCompatibilityListAcceptsNothingConcurrent(t *testing.T) {
	plan := json.RawMessage(`{"groups":["1","2"],"compatible":[],"min_yellow_ms":3000}`)
	f, err := MonitorTrafficSignal(clock, plan, map[string]any{}, sig("normal", 0, "1", "green", 1.0, "2", "green", 1.0))
	if err != nil || f == nil || f.Reason != FaultConflict {
		t.Fatalf("two greens with an empty list: fault %v, err %v; want a conflict", f, err)
	}
	f, err = MonitorTrafficSignal(clock, plan, map[string]any{}, sig("normal", 0, "1", "green", 1.0, "2", "red", 1.0))
	if err != nil || f != nil {
		t.Fatalf("one green: fault %v, err %v", f, err)
	}
	for _, bad := range []string{
		`{"groups":["1","2"],"conflicts":[["1","2"]],"min_yellow_ms":3000}`,
		`{"groups":["1","2"],"compatible":[],"min_yellow_ms":3000,"rings":[["1"],["2"]],"barriers":[["1","2"]]}`,
		`{"groups":["1","2"],"compatible":[],"min_yellow_ms":3000,"phases":{"1":{"yellow_ms":1000}}}`,
	} {
		if _, err := ParseTrafficSignalParams(json.RawMessage(bad)); err == nil {
			t.Errorf("params %s accepted", bad)
		}
	}
}

// TestAFaultIsLatchedUntilANewBoot: the fault stays through later
// reports of the same boot, and a new boot clears it.
func TestAFaultIsLatchedUntilANewBoot(t *testing.T) {
	prev := sig("normal", 1, "2", "red", 1.0, "4", "red", 1.0)
	next := sig("normal", 1, "2", "green", 10.0, "4", "green", 10.0)
	if err := (trafficSignal{}).ValidateAt(clock, signalPlan, prev, next); err != nil || next[FaultField] == nil {
		t.Fatalf("conflict: %v, fault %v", err, next[FaultField])
	}
	flash := with(sig("flash", 1, "2", "flash", 11.0, "4", "flash", 11.0), FaultField, next[FaultField])
	if err := (trafficSignal{}).ValidateAt(clock, signalPlan, next, flash); err != nil || flash[FaultField] == nil {
		t.Fatalf("flash after the fault: %v, fault %v", err, flash[FaultField])
	}
	reboot := with(sig("flash", 20, "2", "flash", 20.0, "4", "flash", 20.0), FaultField, flash[FaultField])
	if err := (trafficSignal{}).ValidateAt(clock, signalPlan, flash, reboot); err != nil || reboot[FaultField] != nil {
		t.Fatalf("new boot: %v, fault %v (want cleared)", err, reboot[FaultField])
	}
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// TestACommandNeverAsksForAMalfunction: the greens a failing controller
// may report (accepted as a fault) are refused when an operator asks for
// them, in normal mode and in flash.
func TestACommandNeverAsksForAMalfunction(t *testing.T) {
	p, _ := Lookup("traffic-signal")
	reported := sig("normal", 0, "2", "red", 1.0, "4", "red", 1.0)
	for _, next := range []map[string]any{
		sig("normal", 0, "2", "green", 10.0, "4", "green", 10.0),
		sig("flash", 0, "2", "green", 10.0, "4", "green", 10.0),
	} {
		if err := ValidateCommanded(p, signalPlan, reported, next); signing.ReasonOf(err) != signing.ReasonInvalidState {
			t.Errorf("commanded %v: %v, want refused", next, err)
		}
		if next[FaultField] != nil {
			t.Errorf("ValidateCommanded changed its argument: %v", next)
		}
	}
	if err := ValidateCommanded(p, signalPlan, reported, sig("normal", 0, "2", "green", 10.0, "4", "red", 1.0)); err != nil {
		t.Errorf("one green: %v", err)
	}
}
