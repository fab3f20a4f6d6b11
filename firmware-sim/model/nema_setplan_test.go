package model

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
)

// lagPlan is NEMAPlan with a lead-lag plan: ring 1 serves its through (2)
// before its left (1).
var lagPlan = json.RawMessage(strings.Replace(string(NEMAPlan), `"split":`, `"lag":[["2","5"],["1","6"],["3","7"],["4","8"]],"split":`, 1))

// TestSetPlanChangesTheRings: set-plan on the dual-ring controller changes
// the rings' sequence at the next cycle, reports the plan then, and every
// report before and after passes the controller's monitor; a plan that
// would cross a barrier backwards is refused.
func TestSetPlanChangesTheRings(t *testing.T) {
	m, err := New("traffic-signal", lagPlan, 1)
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*Controller)
	now := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	var greens []string // ring 1's groups in the order they go green
	reportedPlan := ""
	step := func() {
		now = now.Add(time.Second)
		for _, p := range c.Step(now) {
			if p.Class != topic.State {
				continue
			}
			var s map[string]any
			json.Unmarshal(p.Payload, &s)
			if pl, ok := s["plan"].(string); ok {
				reportedPlan = pl
			}
			gs, _ := s["groups"].(map[string]any)
			for _, g := range []string{"1", "2"} {
				if h, ok := gs[g].(map[string]any); ok && h["state"] == kinds.Green && reportedPlan == "lag" && (len(greens) == 0 || greens[len(greens)-1] != g) {
					greens = append(greens, g)
				}
			}
		}
	}
	for range 120 {
		step()
	}
	if err := c.Command("set-plan", catalog.Args{"plan": "lag"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; len(greens) < 2; i++ {
		if i > 600 {
			t.Fatalf("in 10 minutes: plan %q, ring 1 greens %v", reportedPlan, greens)
		}
		step()
	}
	if !slices.Equal(greens[:2], []string{"2", "1"}) || !slices.Equal(c.RingSequences()[0], []string{"2", "1", "3", "4"}) {
		t.Fatalf("after set-plan lag: ring 1 greens %v, sequences %v", greens, c.RingSequences())
	}
	if c.Err() != nil || c.Fault() != nil {
		t.Fatalf("monitor: err %v, fault %v", c.Err(), c.Fault())
	}
	if _, err := c.ringSequences([][]string{{"3", "7"}, {"1", "5"}, {"4", "8"}, {"2", "6"}}); err == nil {
		t.Fatal("a plan back across the barrier was taken")
	}
}
