package model

import (
	"time"

	"github.com/signet-city/signet/devices/kinds"
)

// spatEvent is the J2735 MovementPhaseState a head's colour shows (the
// first of kinds.EventsFor: lefts and throughs here are all protected).
func spatEvent(state string) string { return kinds.EventsFor[state][0] }

// spat is the controller's SPaT at now (devices/kinds CheckSPaT describes
// the format): for the group each ring is timing, the end of its current
// interval, which a fixed-time controller knows exactly (minEndTime =
// likelyTime = maxEndTime); for every other group only minEndTime, now:
// it will not change before the rings reach it.
func (c *Controller) spat(now time.Time) map[string]any {
	nowMS := float64(now.UnixMilli())
	groups := map[string]any{}
	for _, g := range c.plan.Groups {
		h := c.heads[g]
		groups[g] = map[string]any{"event": spatEvent(h.state), "min_end": max(nowMS, float64(h.since.UnixMilli()))}
	}
	if c.stage == stageRun {
		for _, r := range c.rings {
			if r.stage == ringWaiting {
				continue
			}
			g := r.seq[r.at]
			if c.heads[g].state != r.stage {
				continue
			}
			// The interval ends when the ring leaves this colour, which
			// for a green is after its pedestrian intervals.
			end := r.greenUntil
			switch r.stage {
			case kinds.Yellow:
				end = r.since.Add(ms(c.yellowMS(g)))
			case kinds.Red:
				continue // red clearance, then the next phase: not this head's change
			}
			e := float64(end.UnixMilli())
			groups[g] = map[string]any{"event": spatEvent(r.stage), "min_end": max(nowMS, e), "likely": max(nowMS, e), "max_end": max(nowMS, e)}
		}
	}
	return map[string]any{"boot": float64(c.boot.UnixMilli()), "at": nowMS, "groups": groups}
}
