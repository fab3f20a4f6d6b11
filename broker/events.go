package broker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/broker/audit"
)

// EventSink receives security events (SPEC §4: one per rejection and per
// authentication failure).
type EventSink interface {
	Record(audit.Event)
}

// Publisher publishes a broker-originated MQTT message (mochi's inline client).
type Publisher func(topic string, payload []byte, retain bool, qos byte) error

// Events delivers security events to the hash-chained audit log, to
// $security/events and to a ring of recent events for the HTTP API. Record
// hands the event to one background writer through a bounded queue; when the
// queue is full Record blocks, so a flood of bad messages slows the flooding
// connection (whose read goroutine calls Record) instead of losing events.
//
// Record is also the one place that bounds what an event may cost: every
// string is cut to AuditLimits.MaxFieldBytes, and each source (see
// eventSource) has Burst events written per Window; further ones are counted
// and written as one KindSuppressed event per kind and reason when the window
// closes, or at Close, so the count is never lost.
type Events struct {
	log     *audit.Log                // may be nil: no audit file
	publish atomic.Pointer[Publisher] // nil until the server starts
	logger  *slog.Logger
	queue   chan audit.Event
	done    chan struct{}
	limits  AuditLimits
	now     func() time.Time
	stop    chan struct{} // closed by Close: ends the sweeper
	swept   chan struct{} // closed when the sweeper has ended

	limMu sync.Mutex
	lim   *limiter
	stats struct{ recorded, suppressed atomic.Uint64 }

	mu     sync.Mutex
	recent []audit.Event // ring, newest at (next-1) mod len
	next   int
	full   bool
	// closeMu guards closed and the sends on queue, so Close never closes
	// the queue under a sender.
	closeMu sync.RWMutex
	closing bool // Close has begun
	closed  bool
}

// EventsTopic is where security events are published (SPEC §1).
const EventsTopic = "$security/events"

// NewEvents starts the writer with DefaultAuditLimits. ringSize bounds the
// events kept for the API.
func NewEvents(log *audit.Log, logger *slog.Logger, ringSize, queueSize int) *Events {
	return NewEventsWith(log, logger, ringSize, queueSize, AuditLimits{})
}

// NewEventsWith starts the writer with the given limits (zero fields: their
// defaults).
func NewEventsWith(log *audit.Log, logger *slog.Logger, ringSize, queueSize int, limits AuditLimits) *Events {
	return newEvents(log, logger, ringSize, queueSize, limits, time.Now)
}

// newEvents is NewEventsWith on a given clock (tests move it).
func newEvents(log *audit.Log, logger *slog.Logger, ringSize, queueSize int, limits AuditLimits, now func() time.Time) *Events {
	if ringSize <= 0 {
		ringSize = 1024
	}
	if queueSize <= 0 {
		queueSize = 4096
	}
	e := &Events{
		log: log, logger: logger,
		queue:  make(chan audit.Event, queueSize),
		done:   make(chan struct{}),
		recent: make([]audit.Event, ringSize),
		limits: limits.withDefaults(), now: now,
		stop: make(chan struct{}), swept: make(chan struct{}),
	}
	e.lim = newLimiter(e.limits)
	if log != nil {
		// Seed the ring from the log, so GET /api/v1/events and the
		// dashboard's counts survive a restart.
		past, err := audit.ReadRecent(log.Path(), ringSize)
		if err != nil {
			logger.Warn("reading recent events back from the audit log failed", "err", err)
		}
		for _, ev := range past {
			e.remember(ev)
		}
	}
	go e.run()
	go e.sweeper()
	return e
}

// EventStats counts what Record was given: Recorded events in all, of which
// Suppressed were counted in aggregate events instead of written one by one.
type EventStats struct{ Recorded, Suppressed uint64 }

// Stats returns the counts so far.
func (e *Events) Stats() EventStats {
	return EventStats{Recorded: e.stats.recorded.Load(), Suppressed: e.stats.suppressed.Load()}
}

// sweeper writes the aggregates of windows that closed with no later event
// from their source to close them.
func (e *Events) sweeper() {
	defer close(e.swept)
	tick := time.NewTicker(min(max(e.limits.Window/4, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			e.limMu.Lock()
			aggs := e.lim.sweep(e.now(), false)
			e.limMu.Unlock()
			e.enqueue(aggs...)
		}
	}
}

// enqueue queues events for the writer unless Close has begun.
func (e *Events) enqueue(evs ...audit.Event) {
	if len(evs) == 0 {
		return
	}
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		e.logger.Warn("security events after shutdown", "n", len(evs))
		return
	}
	for _, ev := range evs {
		e.queue <- audit.Bound(ev, e.limits.MaxFieldBytes)
	}
}

// SetPublisher sets where events are published on $security/events.
func (e *Events) SetPublisher(p Publisher) {
	e.publish.Store(&p)
}

// Record bounds one event's fields, applies its source's rate limit and
// queues it (or counts it); it blocks while the queue is full.
func (e *Events) Record(ev audit.Event) {
	ev = audit.Bound(ev, e.limits.MaxFieldBytes)
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		e.logger.Warn("security event after shutdown", "reason", ev.Reason, "client", ev.Client)
		return
	}
	e.stats.recorded.Add(1)
	e.limMu.Lock()
	write, aggs := e.lim.admit(ev, e.now())
	e.limMu.Unlock()
	for _, a := range aggs {
		e.queue <- audit.Bound(a, e.limits.MaxFieldBytes)
	}
	if !write {
		e.stats.suppressed.Add(1)
		return
	}
	e.queue <- ev
}

func (e *Events) run() {
	defer close(e.done)
	for ev := range e.queue {
		e.deliver(ev)
		// Drain what else is queued before the one fsync.
		for more := true; more; {
			select {
			case ev, ok := <-e.queue:
				if !ok {
					more = false
					break
				}
				e.deliver(ev)
			default:
				more = false
			}
		}
		if e.log != nil {
			if err := e.log.Sync(); err != nil {
				e.logger.Error("audit log sync failed", "err", err)
			}
		}
	}
}

func (e *Events) deliver(ev audit.Event) {
	if e.log != nil {
		if err := e.log.Append(ev); err != nil {
			e.logger.Error("audit log append failed", "err", err, "reason", ev.Reason)
		}
	}
	e.remember(ev)
	if pub := e.publish.Load(); pub != nil {
		b, err := json.Marshal(ev)
		if err == nil {
			err = (*pub)(EventsTopic, b, false, 0)
		}
		if err != nil {
			e.logger.Warn("publishing security event failed", "err", err)
		}
	}
}

// remember puts ev in the ring of recent events.
func (e *Events) remember(ev audit.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recent[e.next] = ev
	e.next = (e.next + 1) % len(e.recent)
	if e.next == 0 {
		e.full = true
	}
}

// Recent returns up to n of the newest events, newest last.
func (e *Events) Recent(n int) []audit.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	size := e.next
	if e.full {
		size = len(e.recent)
	}
	if n <= 0 || n > size {
		n = size
	}
	out := make([]audit.Event, 0, n)
	for i := n; i > 0; i-- {
		out = append(out, e.recent[(e.next-i+len(e.recent))%len(e.recent)])
	}
	return out
}

// Close stops taking events, writes the aggregates of every open window and
// what is queued, and syncs the audit log.
func (e *Events) Close(ctx context.Context) error {
	e.closeMu.Lock()
	if e.closing {
		e.closeMu.Unlock()
		return nil
	}
	e.closing = true
	e.closeMu.Unlock()
	close(e.stop)
	<-e.swept
	e.closeMu.Lock()
	e.closed = true
	e.limMu.Lock()
	aggs := e.lim.sweep(e.now(), true)
	e.limMu.Unlock()
	for _, a := range aggs {
		e.queue <- audit.Bound(a, e.limits.MaxFieldBytes)
	}
	e.closeMu.Unlock()
	close(e.queue)
	select {
	case <-e.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.log != nil {
		return e.log.Close()
	}
	return nil
}
