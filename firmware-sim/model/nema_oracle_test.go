package model_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/signet-city/signet/devices/catalog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/firmware-sim/model"
)

// The oracle is a conflict monitor of its own, written from NEMA TS 2 and
// MUTCD rather than from devices/kinds: it derives conflicts from the rings
// and barrier (same ring, or opposite sides of the barrier, conflict),
// follows each head from the state patches, and checks every interval.

type oracleHead struct {
	state, ped      string
	since, pedSince int64
}

type oraclePlan struct {
	groups   []string
	ring     map[string]int
	side     map[string]int
	minGreen map[string]int64
	yellow   map[string]int64
	red      map[string]int64
	walk     map[string]int64
	pedClear map[string]int64
}

type oracle struct {
	plan    oraclePlan
	heads   map[string]oracleHead
	mode    string
	boot    int64
	allRed  int64 // when the start-up all red began, 0 before
	reports int
}

func (p oraclePlan) conflict(a, b string) bool {
	return a != b && (p.ring[a] == p.ring[b] || p.side[a] != p.side[b])
}

// see checks one state patch at the simulated time now (ms).
func (o *oracle) see(now int64, patch []byte) error {
	var m struct {
		Mode   *string `json:"mode"`
		Boot   *int64  `json:"boot"`
		Groups map[string]struct {
			State    string `json:"state"`
			Since    int64  `json:"since"`
			Ped      string `json:"ped"`
			PedSince int64  `json:"ped_since"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(patch, &m); err != nil {
		return err
	}
	if m.Boot != nil {
		if *m.Boot <= o.boot {
			return fmt.Errorf("boot %d not after %d", *m.Boot, o.boot)
		}
		o.boot, o.heads, o.allRed, o.reports = *m.Boot, map[string]oracleHead{}, 0, 0
		if m.Mode == nil || *m.Mode != "flash" || len(m.Groups) != len(o.plan.groups) {
			return fmt.Errorf("a boot must start in flash with every head: %s", patch)
		}
	}
	if m.Mode != nil {
		o.mode = *m.Mode
		if o.mode == "flash" {
			o.allRed = 0 // leaving flash again goes through all red
		}
	}
	o.reports++
	for g, h := range m.Groups {
		old, seen := o.heads[g]
		if h.Since > now || h.Since < o.boot || (seen && h.Since < old.since) {
			return fmt.Errorf("group %s since %d: now %d, boot %d, before %d", g, h.Since, now, o.boot, old.since)
		}
		if seen && old.state != h.State {
			lasted := h.Since - old.since
			switch {
			case old.state == "green" && h.State == "yellow":
				if lasted < o.plan.minGreen[g] {
					return fmt.Errorf("group %s green %d ms < %d", g, lasted, o.plan.minGreen[g])
				}
			case old.state == "yellow" && h.State == "red":
				if lasted < o.plan.yellow[g] || lasted < 3000 || lasted > 6000 {
					return fmt.Errorf("group %s yellow %d ms, want %d (3-6 s)", g, lasted, o.plan.yellow[g])
				}
			case old.state == "red" && h.State == "green":
			case old.state == "flash" && h.State == "red":
			case old.state == "red" && h.State == "flash": // flash is entered with every head red
			default:
				return fmt.Errorf("group %s: %s -> %s", g, old.state, h.State)
			}
		}
		if h.Ped != "" && seen && old.ped == "ped-clear" && h.Ped == "dont-walk" && h.PedSince-old.pedSince < o.plan.pedClear[g] {
			return fmt.Errorf("group %s pedestrian clearance %d ms < %d", g, h.PedSince-old.pedSince, o.plan.pedClear[g])
		}
		o.heads[g] = oracleHead{state: h.State, since: h.Since, ped: h.Ped, pedSince: h.PedSince}
		if h.State == "green" && (!seen || old.state != "green") {
			if o.allRed == 0 || h.Since-o.allRed < maxOf(o.plan.red) {
				return fmt.Errorf("group %s green at %d before the start-up all red (%d) ran its course", g, h.Since, o.allRed)
			}
			for _, c := range o.plan.groups {
				if other := o.heads[c]; o.plan.conflict(g, c) && other.state == "red" && h.Since-other.since < o.plan.red[c] {
					return fmt.Errorf("group %s green %d ms after conflicting %s went red (< %d)", g, h.Since-other.since, c, o.plan.red[c])
				}
			}
		}
	}
	if o.allRed == 0 && o.mode == "normal" {
		for _, g := range o.plan.groups {
			if o.heads[g].state != "red" {
				return fmt.Errorf("left flash with %s %s, not all red", g, o.heads[g].state)
			}
		}
		o.allRed = o.heads[o.plan.groups[0]].since
	}
	for _, a := range o.plan.groups {
		ha := o.heads[a]
		if o.mode != "normal" && (ha.state == "green" || ha.state == "yellow") {
			return fmt.Errorf("group %s %s in %s", a, ha.state, o.mode)
		}
		if (ha.ped == "walk" || ha.ped == "ped-clear") && ha.state != "green" {
			return fmt.Errorf("pedestrian %s on %s while %s", ha.ped, a, ha.state)
		}
		for _, b := range o.plan.groups {
			hb := o.heads[b]
			if o.plan.conflict(a, b) && (ha.state == "green" || ha.state == "yellow") && (hb.state == "green" || hb.state == "yellow") {
				return fmt.Errorf("conflicting %s %s and %s %s", a, ha.state, b, hb.state)
			}
		}
	}
	return nil
}

// spat checks the SPaT's J2735 event state against the heads.
func (o *oracle) spat(payload []byte) error {
	var m struct {
		Groups map[string]struct {
			Event string `json:"event"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		return err
	}
	allowed := map[string][]string{
		"green": {"protected-movement-allowed", "permissive-movement-allowed"}, "yellow": {"protected-clearance", "permissive-clearance"},
		"red": {"stop-and-remain"}, "flash": {"stop-then-proceed", "caution-conflicting-traffic"},
	}
	for g, e := range m.Groups {
		ok := false
		for _, a := range allowed[o.heads[g].state] {
			ok = ok || a == e.Event
		}
		if !ok {
			return fmt.Errorf("SPaT says %s for group %s, which is %s", e.Event, g, o.heads[g].state)
		}
	}
	return nil
}

func maxOf(m map[string]int64) int64 {
	out := int64(0)
	for _, v := range m {
		out = max(out, v)
	}
	return out
}

// randomPlan is a dual-ring plan with random timings, and one, two or
// four phases per ring (always both sides of the barrier when more than one).
func randomPlan(rng *rand.Rand) (json.RawMessage, oraclePlan) {
	layouts := [][][]string{
		{{"1", "2", "3", "4"}, {"5", "6", "7", "8"}},
		{{"2", "4"}, {"6", "8"}},
		{{"1", "2", "4"}, {"5", "6", "8"}},
	}
	rings := layouts[rng.IntN(len(layouts))]
	op := oraclePlan{ring: map[string]int{}, side: map[string]int{}, minGreen: map[string]int64{}, yellow: map[string]int64{}, red: map[string]int64{}, walk: map[string]int64{}, pedClear: map[string]int64{}}
	var barriers [2][]string
	phases := map[string]any{}
	for r, ring := range rings {
		for _, g := range ring {
			op.groups = append(op.groups, g)
			op.ring[g] = r
			side := 0
			if g == "3" || g == "4" || g == "7" || g == "8" {
				side = 1
			}
			op.side[g] = side
			barriers[side] = append(barriers[side], g)
			t := map[string]any{"min_green_ms": 2000 + rng.IntN(10_000), "yellow_ms": 3000 + rng.IntN(3001), "red_clearance_ms": rng.IntN(3000)}
			if (g[0]-'0')%2 == 0 && rng.IntN(2) == 0 {
				t["walk_ms"], t["ped_clearance_ms"] = 1000+rng.IntN(7000), 1000+rng.IntN(12_000)
			}
			phases[g] = t
			op.minGreen[g], op.yellow[g], op.red[g] = int64(t["min_green_ms"].(int)), int64(t["yellow_ms"].(int)), int64(t["red_clearance_ms"].(int))
			if w, ok := t["walk_ms"]; ok {
				op.walk[g], op.pedClear[g] = int64(w.(int)), int64(t["ped_clearance_ms"].(int))
			}
		}
	}
	var compatible [][2]string
	for i, a := range op.groups {
		for _, b := range op.groups[i+1:] {
			if !op.conflict(a, b) {
				compatible = append(compatible, [2]string{a, b})
			}
		}
	}
	plan := map[string]any{"groups": op.groups, "compatible": compatible, "rings": rings, "barriers": barriers,
		"min_green_ms": 1000, "min_yellow_ms": 3000, "red_clearance_ms": 0, "phases": phases, "startup_flash_ms": rng.IntN(10_000),
		// plans an operator may switch to (set-plan): one group, always safe
		"plans": map[string][][]string{"p0": {{op.groups[0]}}, "p1": {{op.groups[0]}}, "p2": {{op.groups[0]}}}}
	b, _ := json.Marshal(plan)
	return b, op
}

// TestControllerAgainstAnIndependentMonitor runs controllers with random
// plans for 10,000 simulated seconds at irregular steps, with reboots and
// plan commands at random times; the oracle checks every report and SPaT,
// and the broker's rules (the same twin merge and validation, at the
// simulated clock) accept every report without a fault.
func TestControllerAgainstAnIndependentMonitor(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 16))
	profile, _ := kinds.Lookup("traffic-signal")
	atClock := profile.(interface {
		ValidateAt(time.Time, json.RawMessage, map[string]any, map[string]any) error
	})
	start := time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)
	now := start
	var (
		c      *model.Controller
		o      *oracle
		doc    *twin.Document
		params json.RawMessage
	)
	boot := func() {
		var op oraclePlan
		if o == nil || rng.IntN(3) == 0 {
			params, op = randomPlan(rng)
			o = &oracle{plan: op}
			doc = twin.New("tl-1", "z1", "traffic-signal") // re-enrolled with the new plan
		}
		o.heads = map[string]oracleHead{}
		m, err := model.New("traffic-signal", params, rng.Uint64())
		if err != nil {
			t.Fatal(err)
		}
		c = m.(*model.Controller)
	}
	boot()
	boots, greens, spats, flashes, holds := 1, 0, 0, 0, 0
	for now.Sub(start) < 10_000*time.Second {
		now = now.Add(time.Duration(100+rng.IntN(2500)) * time.Millisecond)
		switch rng.IntN(400) {
		case 0:
			now = now.Add(time.Duration(rng.IntN(5000)) * time.Millisecond) // the power is off for a while
			boot()
			boots++
		case 1:
			if err := c.Command("set-plan", catalog.Args{"plan": fmt.Sprintf("p%d", rng.IntN(3))}); err != nil {
				t.Fatal(err)
			}
		case 2, 3:
			c.EnterFlash()
			flashes++
		case 4, 5, 6, 7:
			if err := c.Resume(); err != nil {
				t.Fatal(err)
			}
		case 8, 9, 10:
			// A hold is refused outside normal operation; either way the
			// controller must stay safe.
			if c.Hold(o.plan.groups[rng.IntN(len(o.plan.groups))], time.Duration(5+rng.IntN(60))*time.Second) == nil {
				holds++
			}
		}
		for _, p := range c.Step(now) {
			if p.Class != topic.State {
				if err := o.spat(p.Payload); err != nil {
					t.Fatalf("at %s: %v (%s)", now.Sub(start), err, p.Payload)
				}
				spats++
				continue
			}
			if err := o.see(now.UnixMilli(), p.Payload); err != nil {
				t.Fatalf("at %s: oracle: %v (patch %s)", now.Sub(start), err, p.Payload)
			}
			rules := twin.Rules{Validate: func(prev, next map[string]any) error { return atClock.ValidateAt(now, params, prev, next) }}
			if err := doc.ApplyReportedWith(p.Payload, twin.FieldMeta{}, rules); err != nil {
				t.Fatalf("at %s: broker rules refused: %v (patch %s)", now.Sub(start), err, p.Payload)
			}
			if f := doc.Reported[kinds.FaultField]; f != nil {
				t.Fatalf("at %s: broker rules found a fault: %v (patch %s)", now.Sub(start), f, p.Payload)
			}
			var patch struct {
				Groups map[string]struct{ State string }
			}
			json.Unmarshal(p.Payload, &patch)
			for _, g := range patch.Groups {
				if g.State == kinds.Green {
					greens++
				}
			}
		}
		if c.Err() != nil || c.Fault() != nil {
			t.Fatalf("at %s: the controller's own monitor: err %v, fault %v", now.Sub(start), c.Err(), c.Fault())
		}
	}
	if greens < 500 || boots < 10 || spats < 1000 || flashes < 10 || holds < 10 {
		t.Fatalf("%d green starts, %d boots, %d SPaT, %d flash and %d hold commands in 10,000 s: the controller is not cycling or the run not exercising it", greens, boots, spats, flashes, holds)
	}
}

// TestTheOracleCatchesMalfunctions makes sure the property above can fail:
// each malfunction is caught by the oracle, by the broker's rules as a
// fault, and by the controller's own monitor, which then goes to flash.
func TestTheOracleCatchesMalfunctions(t *testing.T) {
	for _, kind := range []string{model.MalfunctionConflict, model.MalfunctionShortYellow} {
		c, err := model.NewController(model.NEMAPlan)
		if err != nil {
			t.Fatal(err)
		}
		o := &oracle{plan: nemaOracle(), heads: map[string]oracleHead{}}
		now := time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)
		caught, flash := false, false
		for i := 0; i < 300 && !caught; i++ {
			if i == 60 {
				c.Malfunction(kind)
			}
			now = now.Add(time.Second)
			for _, p := range c.Step(now) {
				if p.Class != topic.State {
					continue
				}
				if err := o.see(now.UnixMilli(), p.Payload); err != nil {
					if i < 60 {
						t.Fatalf("%s: the oracle flagged the honest controller: %v", kind, err)
					}
					caught = true
				}
				flash = bytes.Contains(p.Payload, []byte(`"mode":"flash"`))
			}
		}
		if !caught || c.Fault() == nil || !flash {
			t.Fatalf("%s: oracle caught it %v, controller fault %v, last report flash %v", kind, caught, c.Fault(), flash)
		}
		// Once tripped it stays in flash: no head changes, whatever the time.
		for range 60 {
			now = now.Add(time.Second)
			for _, p := range c.Step(now) {
				if p.Class == topic.State {
					t.Fatalf("%s: the controller changed heads after its fault: %s", kind, p.Payload)
				}
			}
		}
	}
}

// nemaOracle is NEMAPlan as the oracle reads it (the minimum of its
// timings, which is what the checks bound from below).
func nemaOracle() oraclePlan {
	op := oraclePlan{ring: map[string]int{}, side: map[string]int{}, minGreen: map[string]int64{}, yellow: map[string]int64{}, red: map[string]int64{}, walk: map[string]int64{}, pedClear: map[string]int64{}}
	for i, g := range []string{"1", "2", "3", "4", "5", "6", "7", "8"} {
		op.groups = append(op.groups, g)
		op.ring[g] = i / 4
		op.side[g] = (i % 4) / 2
		op.minGreen[g], op.yellow[g], op.red[g] = 5000, 3000, 1000
	}
	return op
}
