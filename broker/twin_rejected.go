package broker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// TwinRejections tells a device why the broker refused one of its messages,
// on $twin/{zone}/{device}/rejected (not retained): an MQTT 3.1.1 client
// gets no reason code in its PUBACK (MQTT 3.1.1 §3.4), so without this it
// could not tell a replayed counter from a bad signature. The read rule
// lets only the device itself and its zone's viewers, operators and admins
// read it (Identity.MayRead).
//
// It is the EventSink the verify hook records refusals in: it hands every
// event on to the security events unchanged, and publishes the refusals of
// messages on a registered device's own topics (not commands addressed to
// it, which are an operator's). Each device has perSecond publications a
// second; the rest are counted, as the security events count theirs
// (events_limit.go), and published as one summary per reason when the
// second is over, so a flood of refusals costs the topic's subscribers
// next to nothing.
type TwinRejections struct {
	next    EventSink
	zoneOf  func(device string) (string, bool) // a registered device's zone
	log     *slog.Logger
	publish atomic.Pointer[Publisher] // nil until the server starts
	queue   chan twinRejected         // to the publishing goroutine, off the verify path
	dropped atomic.Uint64
	now     func() time.Time

	mu  sync.Mutex
	lim *limiter
}

// twinRejected is one message on a rejected topic: a refusal, or the
// summary of those counted instead of published.
type twinRejected struct {
	topic string
	Time  time.Time `json:"time"`
	// Reason is the refusal's stable name (signing.Reason).
	Reason string `json:"reason"`
	// Field is what was wrong, e.g. "protected.piv" (if known).
	Field string `json:"field,omitempty"`
	// Counter is the refused message's counter (if it could be read).
	Counter uint64 `json:"counter,omitempty"`
	KID     string `json:"kid,omitempty"`
	Topic   string `json:"topic,omitempty"` // the refused message's topic
	Detail  string `json:"detail,omitempty"`
	// Suppressed, on a summary, is how many refusals with Reason were
	// counted and not published in the second before Time.
	Suppressed uint64 `json:"suppressed,omitempty"`
}

// rejectedQueue bounds the refusals waiting to be published; past it they
// are dropped (and counted in the log): the security events keep them all.
const rejectedQueue = 1024

// maxRejectedField bounds each string of a published refusal, as the
// audit log bounds its events' (AuditLimits.MaxFieldBytes).
const maxRejectedField = 256

// rejectedSources bounds the devices counted at once; each window lasts a
// second, so only devices refused within the last second hold one.
const rejectedSources = 4096

// NewTwinRejections wraps next (the security events) for the verify hook;
// zoneOf names a registered device's zone (EdgeZones).
func NewTwinRejections(next EventSink, zoneOf func(device string) (string, bool), perSecond int, log *slog.Logger) *TwinRejections {
	if perSecond <= 0 {
		perSecond = DefaultRejectedPerSecond
	}
	if log == nil {
		log = slog.Default()
	}
	lim := AuditLimits{Burst: perSecond, Window: time.Second, MaxSources: rejectedSources}.withDefaults()
	return &TwinRejections{
		next: next, zoneOf: zoneOf, log: log, now: time.Now,
		queue: make(chan twinRejected, rejectedQueue),
		lim:   newLimiterBy(lim, func(ev audit.Event) string { return ev.Topic }),
	}
}

// SetPublisher sets where refusals are published (the server's inline client).
func (r *TwinRejections) SetPublisher(p Publisher) { r.publish.Store(&p) }

// Record passes ev on to the security events.
func (r *TwinRejections) Record(ev audit.Event) { r.next.Record(ev) }

// RecordRefusal passes ev on to the security events and publishes it on
// the device's rejected topic, within the device's rate.
func (r *TwinRejections) RecordRefusal(ev audit.Event, rej *signing.Rejection) {
	r.next.Record(ev)
	t, ok := r.topicOf(ev)
	if !ok {
		return
	}
	short := audit.Bound(ev, maxRejectedField)
	m := twinRejected{topic: t, Time: ev.Time, Reason: ev.Reason, Counter: ev.Counter, KID: short.KID, Topic: short.Topic, Detail: short.Detail}
	if rej != nil {
		m.Field = rej.Field
		if len(m.Field) > maxRejectedField {
			m.Field = m.Field[:maxRejectedField] // a state member's name can be long
		}
	}
	// The limiter counts by the rejected topic: one budget per device.
	keyed := ev
	keyed.Topic = t
	r.mu.Lock()
	ok, summaries := r.lim.admit(keyed, r.now())
	r.mu.Unlock()
	r.enqueue(summaryMessages(summaries)...)
	if ok {
		r.enqueue(m)
	}
}

// topicOf is the rejected topic of the device whose own message ev refused:
// a registered device, in its registered zone, on one of its city/ topics
// other than commands.
func (r *TwinRejections) topicOf(ev audit.Event) (string, bool) {
	if ev.Kind != "rejected" || ev.Device == "" {
		return "", false
	}
	c, err := topic.ParseCity(ev.Topic)
	if err != nil || c.Class == topic.Cmd || c.Device != ev.Device {
		return "", false
	}
	zone, ok := r.zoneOf(ev.Device)
	if !ok || zone != c.Zone {
		return "", false
	}
	return topic.Twin(zone, ev.Device, topic.TwinRejected), true
}

// EdgeZones is the zoneOf of the devices an Edge knows.
func EdgeZones(edge *devices.Edge) func(string) (string, bool) {
	return func(device string) (string, bool) {
		doc, ok := edge.Twin(device)
		if !ok {
			return "", false
		}
		return doc.Zone, true
	}
}

// summaryMessages turns the limiter's aggregates into summaries on the
// topics they were counted against (those of devices past rejectedSources
// share one count that names no device, and are not published).
func summaryMessages(aggs []audit.Event) []twinRejected {
	var out []twinRejected
	for _, a := range aggs {
		if a.Source == otherSource {
			continue
		}
		out = append(out, twinRejected{topic: a.Source, Time: a.Time, Reason: a.Reason, Suppressed: a.Count,
			Detail: "more refusals with this reason in the last second: counted, not published"})
	}
	return out
}

// enqueue hands messages to the publishing goroutine without waiting.
func (r *TwinRejections) enqueue(ms ...twinRejected) {
	for _, m := range ms {
		select {
		case r.queue <- m:
		default:
			r.dropped.Add(1)
		}
	}
}

// Run publishes queued refusals and, every second, the summaries of
// devices whose window closed with no later refusal, until ctx ends.
func (r *TwinRejections) Run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-r.queue:
			r.send(m)
		case <-tick.C:
			for _, m := range r.sweep() {
				r.send(m)
			}
			if n := r.dropped.Swap(0); n > 0 {
				r.log.Warn("refusals not published on twin rejected topics: queue full (the security events have them)", "dropped", n)
			}
		}
	}
}

// sweep returns the summaries of every device whose second is over.
func (r *TwinRejections) sweep() []twinRejected {
	r.mu.Lock()
	defer r.mu.Unlock()
	return summaryMessages(r.lim.sweep(r.now(), false))
}

// send publishes one message.
func (r *TwinRejections) send(m twinRejected) {
	pub := r.publish.Load()
	if pub == nil {
		return
	}
	b, err := json.Marshal(m)
	if err == nil {
		err = (*pub)(m.topic, b, false, 0)
	}
	if err != nil {
		r.log.Debug("publishing a refusal failed", "topic", m.topic, "err", err)
	}
}

// refusalSink is an EventSink that also wants the rejection itself (its
// field), which a security event does not carry.
type refusalSink interface {
	RecordRefusal(audit.Event, *signing.Rejection)
}

// recordRefusal records the security event of a refused message in sink,
// with the rejection when sink wants it.
func recordRefusal(sink EventSink, ev audit.Event, err error) {
	if rs, ok := sink.(refusalSink); ok {
		var rej *signing.Rejection
		errors.As(err, &rej)
		rs.RecordRefusal(ev, rej)
		return
	}
	sink.Record(ev)
}

// refusalReasonString is the Reason String of a refusing MQTT 5 PUBACK or
// PUBREC (MQTT 5 §3.4.2.2.2): the stable reason name, so a sender learns
// why (a command decided on an old twin: stale_version) without
// subscribing anywhere. It is a few bytes, far below any Maximum Packet
// Size a client can set that still admits its own PUBLISH.
func refusalReasonString(r signing.Reason) string { return string(r) }
