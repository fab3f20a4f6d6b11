package model

import (
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// Step advances the controller to now through every instant at which a
// head changes, reporting each instant as its own state patch, then
// publishes SPaT for now.
func (c *Controller) Step(now time.Time) []Publication {
	var out []Publication
	c.last = now
	if !c.started {
		c.started, c.boot, c.stage, c.since = true, now, stageStartupFlash, now
		for _, g := range c.plan.Groups {
			c.set(g, kinds.Flash, now)
		}
		out = c.report(out, now, map[string]any{"mode": kinds.ModeFlash, "boot": float64(now.UnixMilli()), "plan": c.planName})
	}
	for {
		at, ok := c.nextChange()
		if !ok || at.After(now) {
			break
		}
		out = c.advance(out, at)
	}
	return append(out, Publication{Class: topic.Tele, Name: "spat", Payload: mustJSON(c.spat(now))})
}

// nextChange is the next instant a head changes; false in flash after a
// fault, where nothing changes until a restart.
func (c *Controller) nextChange() (time.Time, bool) {
	switch c.stage {
	case stageStartupFlash:
		return c.since.Add(c.plan.StartupFlash()), true
	case stageStartupRed:
		return c.since.Add(ms(c.allRedMS())), true
	case stageFault, stageFlashCmd:
		if c.pendingResume {
			return c.last, true
		}
		return time.Time{}, false
	}
	var next time.Time
	for _, r := range c.rings {
		if at, ok := c.ringChange(r); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next, !next.IsZero()
}

// ringChange is the next instant ring r changes a head.
func (c *Controller) ringChange(r *ring) (time.Time, bool) {
	if r.stage == ringWaiting {
		return time.Time{}, false // at the barrier, or resting (no phase in the plan)
	}
	g := r.seq[r.at]
	t := c.plan.Timing(g)
	switch r.stage {
	case kinds.Green:
		h := c.heads[g]
		switch h.ped {
		case kinds.Walk:
			return h.pedSince.Add(ms(t.WalkMS)), true
		case kinds.PedClear:
			return h.pedSince.Add(ms(t.PedClearanceMS)), true
		}
		return r.greenUntil, true
	case kinds.Yellow:
		return r.since.Add(ms(c.yellowMS(g))), true
	case kinds.Red:
		return r.since.Add(ms(t.RedClearanceMS)), true
	}
	return time.Time{}, false // waiting at the barrier
}

// advance makes every change due at at and reports it.
func (c *Controller) advance(out []Publication, at time.Time) []Publication {
	extra := map[string]any{}
	switch c.stage {
	case stageStartupFlash:
		// Start-up flash over: all red, in normal mode.
		c.stage, c.since, extra["mode"] = stageStartupRed, at, kinds.ModeNormal
		for _, g := range c.plan.Groups {
			c.set(g, kinds.Red, at)
		}
	case stageFlashCmd:
		// Resume: the start-up all red, then the first phases.
		c.pendingResume = false
		c.stage, c.since, extra["mode"] = stageStartupRed, at, kinds.ModeNormal
		for _, g := range c.plan.Groups {
			c.set(g, kinds.Red, at)
		}
	case stageStartupRed:
		c.stage, c.side = stageRun, 0
		c.takePlan(extra)
		for _, r := range c.rings {
			r.at, r.stage = c.firstOnSide(r, 0, 0), ringWaiting
		}
		c.cross(at, 0)
	default:
		for _, r := range c.rings {
			if due, ok := c.ringChange(r); ok && due.Equal(at) {
				c.step(r, at)
			}
		}
		switch {
		case c.allWaiting() && c.pendingFlash:
			// Every head is red at the barrier: a safe point for flash.
			c.pendingFlash, c.stage, extra["mode"] = false, stageFlashCmd, kinds.ModeFlash
			for _, g := range c.plan.Groups {
				c.set(g, kinds.Flash, at)
			}
		case c.allWaiting():
			side := (c.side + 1) % len(c.plan.Barriers)
			if side == 0 {
				c.takePlan(extra) // a new cycle: a plan change takes effect
			}
			c.cross(at, side)
		}
	}
	return c.report(out, at, extra)
}

// step moves ring r on at its change at.
func (c *Controller) step(r *ring, at time.Time) {
	g := r.seq[r.at]
	switch r.stage {
	case kinds.Green:
		switch h := c.heads[g]; h.ped {
		case kinds.Walk:
			c.setPed(g, kinds.PedClear, at)
			return
		case kinds.PedClear:
			c.setPed(g, kinds.DontWalk, at)
			return
		}
		r.stage, r.since = kinds.Yellow, at
		c.set(g, kinds.Yellow, at)
	case kinds.Yellow:
		if c.fail == MalfunctionShortYellow {
			c.fail = "" // it has shown
		}
		r.stage, r.since = kinds.Red, at
		c.set(g, kinds.Red, at)
	case kinds.Red:
		nx := (r.at + 1) % len(r.seq)
		r.at, r.since = nx, at
		if c.sideOf(r.seq[nx]) == c.side {
			c.startGreen(r, at)
		} else {
			r.stage = ringWaiting
		}
	}
}

// cross takes every ring over the barrier to side: each starts its phase on
// that side green together.
func (c *Controller) cross(at time.Time, side int) {
	c.side = side
	for _, r := range c.rings {
		if len(r.seq) == 0 {
			continue // the plan gives this ring no phase: it rests
		}
		r.at = c.firstOnSide(r, r.at, side)
		if c.sideOf(r.seq[r.at]) != side {
			continue // this ring has no phase on that side: it rests
		}
		c.startGreen(r, at)
	}
}

// startGreen starts ring r's current phase green at at, fixing when it ends
// (a pending hold of the group is served by this green).
func (c *Controller) startGreen(r *ring, at time.Time) {
	g := r.seq[r.at]
	r.stage, r.since, r.greenUntil = kinds.Green, at, c.greenEnd(g, at)
	if c.hold == g {
		c.hold = ""
	}
	c.green(g, at)
}

func (c *Controller) firstOnSide(r *ring, from, side int) int {
	for i := range r.seq {
		if j := (from + i) % len(r.seq); c.sideOf(r.seq[j]) == side {
			return j
		}
	}
	return from
}

func (c *Controller) allWaiting() bool {
	for _, r := range c.rings {
		if r.stage != ringWaiting {
			return false
		}
	}
	return true
}

// green turns g green, with its walk if it has pedestrian heads.
func (c *Controller) green(g string, at time.Time) {
	c.set(g, kinds.Green, at)
	if c.plan.Timing(g).WalkMS > 0 {
		c.setPed(g, kinds.Walk, at)
	}
	if c.fail == MalfunctionConflict {
		for _, o := range c.plan.Groups {
			if c.plan.Conflict(g, o) && c.heads[o].state == kinds.Red {
				c.fail = ""
				c.set(o, kinds.Green, at) // a welded load switch
				return
			}
		}
	}
}

// set changes group g's head; a head that is not green shows no walk.
func (c *Controller) set(g, state string, at time.Time) {
	h := c.heads[g]
	h.state, h.since = state, at
	if c.plan.Timing(g).WalkMS > 0 && h.ped != kinds.DontWalk && state != kinds.Green {
		h.ped, h.pedSince = kinds.DontWalk, at
	}
	c.heads[g] = h
	c.dirty(g)
}

func (c *Controller) dirty(g string) {
	if c.changed == nil {
		c.changed = map[string]bool{}
	}
	c.changed[g] = true
}

func (c *Controller) setPed(g, ped string, at time.Time) {
	h := c.heads[g]
	h.ped, h.pedSince = ped, at
	c.heads[g] = h
	c.dirty(g)
}

// report publishes the heads changed at at (and extra top-level fields) as
// one state patch, after running the conflict monitor on it; a trip puts
// the controller in flash at once, reported as a second patch.
func (c *Controller) report(out []Publication, at time.Time, extra map[string]any) []Publication {
	patch := extra
	if len(c.changed) > 0 {
		gs := map[string]any{}
		for g := range c.changed {
			gs[g] = c.headJSON(g)
		}
		patch["groups"] = gs
		c.changed = nil
	}
	if len(patch) == 0 {
		return out
	}
	next, _ := twin.MergePatch(c.reported, patch).(map[string]any)
	f, err := kinds.MonitorTrafficSignal(at, c.params, c.reported, next)
	if err != nil && c.err == nil {
		c.err = err
	}
	c.reported = next
	out = append(out, Publication{Class: topic.State, Payload: mustJSON(patch), QoS: 1})
	if f != nil && c.fault == nil {
		c.fault, c.stage = f, stageFault
		for _, g := range c.plan.Groups {
			c.set(g, kinds.Flash, at)
		}
		for _, r := range c.rings {
			r.stage = ringWaiting
		}
		out = c.report(out, at, map[string]any{"mode": kinds.ModeFlash})
	}
	return out
}

func (c *Controller) headJSON(g string) map[string]any {
	h := c.heads[g]
	v := map[string]any{"state": h.state, "since": float64(h.since.UnixMilli())}
	if h.ped != "" {
		v["ped"], v["ped_since"] = h.ped, float64(h.pedSince.UnixMilli())
	}
	return v
}
