package model

import (
	"fmt"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/kinds"
)

// What an operator may ask of the controller. Each takes effect at a point
// of the cycle where it is safe, never by cutting an interval short:
// flash is entered when every ring rests at the barrier (all heads red),
// leaving it goes through the start-up all red, and a hold lengthens a
// green, never shortens one. After a conflict monitor fault the controller
// stays in flash whatever it is told, until it restarts.

// EnterFlash puts the controller in flash at the next barrier.
func (c *Controller) EnterFlash() { c.pendingFlash, c.pendingResume = c.stage != stageFlashCmd, false }

// Resume leaves flash through the start-up all red. It is refused after a
// fault: an MMU's flash is left only by a restart.
func (c *Controller) Resume() error {
	if c.stage == stageFault {
		return fmt.Errorf("traffic-signal: in fault (%s): only a restart leaves the conflict monitor's flash", c.fault.Reason)
	}
	c.pendingFlash = false
	c.pendingResume = c.stage == stageFlashCmd
	return nil
}

// Hold keeps group g green for d: from now if it is green (the green
// never ends earlier than it would have), else from its next green.
func (c *Controller) Hold(g string, d time.Duration) error {
	if !slices.Contains(c.plan.Groups, g) {
		return fmt.Errorf("traffic-signal: %q is not a signal group of this intersection", g)
	}
	if c.stage != stageRun {
		return fmt.Errorf("traffic-signal: a hold needs normal operation")
	}
	for _, r := range c.rings {
		if r.stage == kinds.Green && r.seq[r.at] == g {
			if end := c.last.Add(d); end.After(r.greenUntil) {
				r.greenUntil = end
			}
			return nil
		}
	}
	c.hold, c.holdFor = g, d
	return nil
}

// greenEnd is when group g, turning green at since, will turn yellow: after
// its green time, or a pending hold's, whichever is later.
func (c *Controller) greenEnd(g string, since time.Time) time.Time {
	end := since.Add(ms(c.greenMS(g)))
	if held := since.Add(c.holdFor); c.hold == g && held.After(end) {
		end = held
	}
	return end
}
