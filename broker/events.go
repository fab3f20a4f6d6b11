package broker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

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
type Events struct {
	log     *audit.Log                // may be nil: no audit file
	publish atomic.Pointer[Publisher] // nil until the server starts
	logger  *slog.Logger
	queue   chan audit.Event
	done    chan struct{}

	mu     sync.Mutex
	recent []audit.Event // ring, newest at (next-1) mod len
	next   int
	full   bool
	// closeMu guards closed and the sends on queue, so Close never closes
	// the queue under a sender.
	closeMu sync.RWMutex
	closed  bool
}

// EventsTopic is where security events are published (SPEC §1).
const EventsTopic = "$security/events"

// NewEvents starts the writer. ringSize bounds the events kept for the API.
func NewEvents(log *audit.Log, logger *slog.Logger, ringSize, queueSize int) *Events {
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
	}
	go e.run()
	return e
}

// SetPublisher sets where events are published on $security/events.
func (e *Events) SetPublisher(p Publisher) {
	e.publish.Store(&p)
}

// Record queues one event; it blocks while the queue is full.
func (e *Events) Record(ev audit.Event) {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.closed {
		e.logger.Warn("security event after shutdown", "reason", ev.Reason, "client", ev.Client)
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
	e.mu.Lock()
	e.recent[e.next] = ev
	e.next = (e.next + 1) % len(e.recent)
	if e.next == 0 {
		e.full = true
	}
	e.mu.Unlock()
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

// Close stops taking events, writes what is queued and syncs the audit log.
func (e *Events) Close(ctx context.Context) error {
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return nil
	}
	e.closed = true
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
