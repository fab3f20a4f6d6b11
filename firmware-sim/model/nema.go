package model

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
)

// Controller is a fixed-time NEMA TS 2 dual-ring signal controller with its
// cabinet's conflict monitor (MMU). From power-on it runs the start-up
// sequence (start-up flash, then all red for the longest red clearance),
// then each ring times its phases in order (green, yellow, red clearance),
// the rings crossing each barrier together. Its outputs are judged by the
// same conflict monitor rules as the broker's (devices/kinds), and when
// they trip (a malfunction, see Malfunction) it goes to flash and stays
// there until it restarts, as a cabinet whose MMU tripped does.
//
// Reports (state) are one merge patch per instant at which heads changed,
// stamped with that instant, so a step that spans several changes still
// shows every one; SPaT (tele/spat) is published on every step.
type Controller struct {
	plan   kinds.TrafficSignalParams
	params json.RawMessage
	floor  int64 // the shortest green of any phase, ms (SetGreen)

	boot     time.Time
	started  bool
	stage    string // startup-flash, startup-red, run, fault
	since    time.Time
	side     int // the barrier side the rings are on
	rings    []*ring
	heads    map[string]head
	planName string
	// pending is a plan set-plan chose, each ring's sequence, taken up at
	// the start of the next cycle (NEMA TS 2 plan changes happen at a
	// coordination point; here, the crossing back to the first barrier).
	pending     [][]string
	pendingName string

	reported map[string]any // what the controller has reported, merged
	fault    *kinds.Fault
	fail     string          // an injected malfunction, until it shows
	changed  map[string]bool // heads changed since the last report
	last     time.Time       // the last Step

	pendingFlash, pendingResume bool
	hold                        string        // a group to hold green at its next green ...
	holdFor                     time.Duration // ... for this long
	err                         error         // the first impossible report the monitor saw (a bug)
}

// Controller stages besides the rings' own.
const (
	stageStartupFlash = "startup-flash"
	stageStartupRed   = "startup-red"
	stageRun          = "run"
	stageFault        = "fault"
	stageFlashCmd     = "flash" // flash on an operator's command
)

// ring is one ring's timing: the phase it is at and where in it.
type ring struct {
	seq   []string
	at    int       // index into seq
	stage string    // green, yellow, red (clearance) or waiting (at the barrier)
	since time.Time // when stage began
	// greenUntil is when the current green ends, fixed when it starts (a
	// hold may only lengthen it), so that no later change of plan can
	// move it into the past.
	greenUntil time.Time
}

const ringWaiting = "waiting"

// head is one signal group's output.
type head struct {
	state    string
	since    time.Time
	ped      string
	pedSince time.Time
}

// Malfunctions a test can inject with Malfunction.
const (
	MalfunctionConflict    = "conflict"     // a conflicting group comes on green with the next green
	MalfunctionShortYellow = "short-yellow" // the next yellow lasts one second
)

// NewController builds a controller for params, which must have rings and
// barriers (a plan such as NEMAPlan).
func NewController(params json.RawMessage) (*Controller, error) {
	p, err := kinds.ParseTrafficSignalParams(params)
	if err != nil {
		return nil, err
	}
	if len(p.Rings) == 0 {
		return nil, fmt.Errorf("traffic-signal params: rings and barriers are needed for a dual-ring controller")
	}
	c := &Controller{plan: p, params: params, heads: map[string]head{}, planName: kinds.DefaultPlanName, reported: map[string]any{}}
	for _, r := range p.Rings {
		c.rings = append(c.rings, &ring{seq: r})
	}
	return c, nil
}

// SetGreen sets the shortest green of every phase (never below a phase's
// minimum green or its pedestrian timing).
func (c *Controller) SetGreen(d time.Duration) { c.floor = d.Milliseconds() }

// Malfunction makes the controller fail as a cabinet can (a welded load
// switch, a timing fault); its own monitor then trips, as the broker's
// does.
func (c *Controller) Malfunction(kind string) { c.fail = kind }

// Fault is the fault that put the controller in flash, or nil.
func (c *Controller) Fault() *kinds.Fault { return c.fault }

// Err is the first report of the controller's own that its monitor found
// impossible (invalid_state): a bug in the controller, for tests.
func (c *Controller) Err() error { return c.err }

// Boot is when the controller powered on (zero before its first Step).
func (c *Controller) Boot() time.Time { return c.boot }

// Command acts on a verified catalogue command (devices/catalog), as
// TrafficSignal does: flash, resume, hold-phase, set-plan (a plan of the
// params, reported as "plan") and cancel. The heads are never commanded
// directly.
func (c *Controller) Command(name string, a catalog.Args) error {
	switch name {
	case "set-plan":
		name, err := plannedPlan(c.plan, a)
		if err != nil {
			return err
		}
		seqs, err := c.ringSequences(c.plan.Plans[name])
		if err != nil {
			return err
		}
		c.pending, c.pendingName = seqs, name
	case "flash":
		c.EnterFlash()
	case "resume":
		if err := c.Resume(); err != nil {
			return refuse("%v", err)
		}
	case "hold-phase":
		secs := a.Number("seconds")
		if secs > float64(c.plan.MaxHoldS) {
			return refuse("hold of %v s is longer than max_hold_s %d", secs, c.plan.MaxHoldS)
		}
		if err := c.Hold(a.String("group"), time.Duration(secs*float64(time.Second))); err != nil {
			return refuse("%v", err)
		}
	case catalog.Cancel:
		switch a.String("command") {
		case "flash":
			c.pendingFlash = false
		case "resume":
			c.pendingResume = false
		case "hold-phase":
			c.hold, c.holdFor = "", 0
		case "set-plan":
			c.pending = nil
		}
	default:
		return refuse("a traffic signal takes no command %q", name)
	}
	return nil
}

// greenMS is how long group g stays green.
func (c *Controller) greenMS(g string) int64 {
	t := c.plan.Timing(g)
	return max(t.MinGreenMS, t.WalkMS+t.PedClearanceMS, c.floor)
}

func (c *Controller) yellowMS(g string) int64 {
	if c.fail == MalfunctionShortYellow {
		return 1000
	}
	return c.plan.Timing(g).YellowMS
}

// allRedMS is the start-up all red: the longest red clearance.
func (c *Controller) allRedMS() int64 {
	ms := c.plan.RedClearanceMS
	for _, g := range c.plan.Groups {
		ms = max(ms, c.plan.Timing(g).RedClearanceMS)
	}
	return ms
}

func (c *Controller) sideOf(g string) int {
	for i, b := range c.plan.Barriers {
		if slices.Contains(b, g) {
			return i
		}
	}
	return 0
}

func ms(d int64) time.Duration { return time.Duration(d) * time.Millisecond }

// ringSequences turns a plan's phases (the groups green together, in
// order) into each ring's sequence: its groups in the order the phases
// name them; a ring the plan gives no group rests (all red). No ring may
// cross a barrier backwards (its sides in order), or the rings could not
// meet at the barriers.
func (c *Controller) ringSequences(phases [][]string) ([][]string, error) {
	seqs := make([][]string, len(c.rings))
	for _, ph := range phases {
		for _, g := range ph {
			for i, r := range c.plan.Rings {
				if slices.Contains(r, g) && !slices.Contains(seqs[i], g) {
					seqs[i] = append(seqs[i], g)
				}
			}
		}
	}
	for i, seq := range seqs {
		for j := 1; j < len(seq); j++ {
			if c.sideOf(seq[j]) < c.sideOf(seq[j-1]) {
				return nil, refuse("the plan runs ring %d's group %s after %s, back across the barrier", i+1, seq[j], seq[j-1])
			}
		}
	}
	return seqs, nil
}

// takePlan starts a pending plan: each ring from the first of its new
// sequence, reported as "plan". Called with every ring at the barrier.
func (c *Controller) takePlan(extra map[string]any) {
	if c.pending == nil {
		return
	}
	for i, r := range c.rings {
		r.seq, r.at = c.pending[i], 0
	}
	c.planName, c.pending = c.pendingName, nil
	extra["plan"] = c.planName
}

// RingSequences are the sequences the rings time now.
func (c *Controller) RingSequences() [][]string {
	out := make([][]string, len(c.rings))
	for i, r := range c.rings {
		out[i] = slices.Clone(r.seq)
	}
	return out
}
