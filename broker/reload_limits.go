package broker

import (
	"sync/atomic"
	"time"
)

// liveInt is a limit that hooks read on every use and a reload replaces:
// mochi runs hooks on each client's own goroutine, so a plain int changed
// under them would be a data race.
type liveInt struct{ v atomic.Int64 }

func newLiveInt(v int) *liveInt {
	l := &liveInt{}
	l.set(v)
	return l
}

func (l *liveInt) get() int  { return int(l.v.Load()) }
func (l *liveInt) set(v int) { l.v.Store(int64(v)) }

// SetPayloadLimits changes the envelope limit (max_message_bytes; ≤ 0:
// signing.DefaultMaxSize) and the longest topic under city/ looked at
// (max_topic_bytes; ≤ 0: DefaultMaxTopicBytes) for every message checked
// from now on. A message already being checked keeps the limits it started
// with.
func (h *VerifyHook) SetPayloadLimits(maxSize, maxTopic int) {
	if maxTopic <= 0 {
		maxTopic = DefaultMaxTopicBytes
	}
	h.maxSize.set(maxSize)
	h.maxTopic.set(maxTopic)
}

// SetLimits changes the CONNECT timeout and how many connections may wait
// for authentication at once. Connections already in the gate keep the
// timer they were given; a lower max refuses new ones until enough leave.
func (g *ConnGate) SetLimits(timeout time.Duration, max int) {
	g.mu.Lock()
	g.timeout, g.max = timeout, max
	g.mu.Unlock()
}

// setClientLimits changes, on a running broker, the longest client id and
// the session quotas (zero fields: the defaults). Sessions over a lowered
// quota are kept; new ones are refused until the count is under it. The
// session expiry bound is not changed: mochi advertises it from its
// capabilities, which it reads once at start.
func (h *AccessHook) setClientLimits(c ClientsConfig) {
	c = c.resolved()
	h.maxIDBytes.set(c.MaxClientIDBytes)
	h.sessions.setLimits(c.MaxSessions, c.MaxSessionsPerIdentity)
}

func (t *sessionTable) setLimits(maxTotal, maxPerIdentity int) {
	t.mu.Lock()
	t.maxTotal, t.maxPerIdentity = maxTotal, maxPerIdentity
	t.mu.Unlock()
}

// SetLimits changes the retained-message quotas (zero fields: the
// defaults). Messages retained already stay; a client over a lowered quota
// can retain more only once it is under it again.
func (q *RetainedQuota) SetLimits(limits ClientsConfig) {
	limits = limits.resolved()
	q.mu.Lock()
	q.perCount, q.perBytes, q.totalBytes = limits.RetainedPerClient, limits.RetainedBytesPerClient, limits.RetainedTotalBytes
	q.mu.Unlock()
}

// setAggregation changes how many events of one source are written per
// window, the window, and how many sources are told apart (zero fields:
// the defaults). Windows open now keep their start; the next one uses the
// new length. The field size bound and the rotation stay as at start.
func (e *Events) setAggregation(a AuditLimits) {
	a = a.withDefaults()
	e.limMu.Lock()
	e.lim.lim.Burst, e.lim.lim.Window, e.lim.lim.MaxSources = a.Burst, a.Window, a.MaxSources
	e.limMu.Unlock()
}
