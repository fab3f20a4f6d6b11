package broker

import (
	"sync"
	"time"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/signing"
)

// RatePoint is one second of the dashboard's chart: messages under city/
// accepted and rejected in the second that began at T (unix ms).
type RatePoint struct {
	T        int64  `json:"t"`
	Accepted uint64 `json:"accepted"`
	Rejected uint64 `json:"rejected"`
}

// rateCount is one zone's counts in one second.
type rateCount struct{ accepted, rejected uint64 }

// rateSecond is one closed second, by zone; zone "" holds rejections no
// registered device's zone can be given (a bad topic, an unknown device).
type rateSecond struct {
	start time.Time
	zones map[string]rateCount
}

// rateTally counts verdicts per zone and second and keeps the last seconds
// for the chart. Zones are those of registered devices (accepted messages'
// topics name their device's zone, rejections are charged to the device's
// registered zone), so the maps are bounded by the registry.
type rateTally struct {
	mu    sync.Mutex
	cur   map[string]rateCount
	start time.Time
	hist  []rateSecond // ring of closed seconds
	next  int
	full  bool
}

func newRateTally(seconds int, now time.Time) *rateTally {
	return &rateTally{cur: map[string]rateCount{}, start: now.Truncate(time.Second), hist: make([]rateSecond, seconds)}
}

func (r *rateTally) add(zone string, accepted bool) {
	r.mu.Lock()
	c := r.cur[zone]
	if accepted {
		c.accepted++
	} else {
		c.rejected++
	}
	r.cur[zone] = c
	r.mu.Unlock()
}

// tick closes the current second and starts the next at now.
func (r *rateTally) tick(now time.Time) rateSecond {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := rateSecond{start: r.start, zones: r.cur}
	r.cur, r.start = map[string]rateCount{}, now.Truncate(time.Second)
	r.hist[r.next] = s
	r.next = (r.next + 1) % len(r.hist)
	if r.next == 0 {
		r.full = true
	}
	return s
}

// history returns the kept seconds, oldest first, as one viewer sees them.
func (r *rateTally) history(visible func(zone string) bool) []RatePoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RatePoint
	n := r.next
	if r.full {
		n = len(r.hist)
	}
	for i := n; i > 0; i-- {
		out = append(out, r.hist[(r.next-i+len(r.hist))%len(r.hist)].point(visible))
	}
	return out
}

// point sums the zones a viewer may see.
func (s rateSecond) point(visible func(zone string) bool) RatePoint {
	p := RatePoint{T: s.start.UnixMilli()}
	for z, c := range s.zones {
		if visible(z) {
			p.Accepted += c.accepted
			p.Rejected += c.rejected
		}
	}
	return p
}

// rejectionTap passes the verify hook's security events on and counts each
// rejection in the tally first: every one, also those the audit limits
// later fold into a "suppressed" aggregate.
type rejectionTap struct {
	next   EventSink
	rates  *rateTally
	zoneOf func(device string) (string, bool)
}

// Record counts a rejection and hands the event on.
func (t rejectionTap) Record(ev audit.Event) {
	t.count(ev)
	t.next.Record(ev)
}

// RecordRefusal counts a refused message and hands it on with its
// rejection, so a sink that tells the device why (the rejected topic,
// twin_rejected.go) still sees it.
func (t rejectionTap) RecordRefusal(ev audit.Event, rej *signing.Rejection) {
	t.count(ev)
	if rs, ok := t.next.(refusalSink); ok {
		rs.RecordRefusal(ev, rej)
		return
	}
	t.next.Record(ev)
}

func (t rejectionTap) count(ev audit.Event) {
	if ev.Kind == "rejected" {
		zone, _ := t.zoneOf(ev.Device)
		t.rates.add(zone, false)
	}
}
