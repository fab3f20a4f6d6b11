package broker

import (
	"fmt"
	"net"
	"time"

	"github.com/signet-city/signet/broker/audit"
)

// KindSuppressed is the kind of the aggregate event that stands for events
// counted instead of written (its Count, Source, OfKind and Reason say which).
const KindSuppressed = "suppressed"

// otherSource is the shared source of events from sources past MaxSources.
const otherSource = "other sources"

// maxPairsPerSource bounds the (kind, reason) counters of one source; the
// kinds and reasons come from code, so it is only a backstop.
const maxPairsPerSource = 32

// eventSource names the source an event is rate-limited under. A rejected
// message comes from an authenticated connection, so its source is its
// client id: the access hook binds a client id to the first identity that
// uses it, so no other client can spend that budget (a user name could be
// claimed alongside a certificate). Every other event (a failed CONNECT or HTTP
// login, an ACL or will refusal) is keyed by the peer's address without its
// port: the names such a client claims are unproven and free to vary, and a
// flood from one host must share one budget however many connections it opens.
func eventSource(ev audit.Event) string {
	if ev.Kind == "rejected" {
		if ev.Client != "" {
			return "client " + ev.Client
		}
		if ev.User != "" {
			return "user " + ev.User
		}
	}
	if ev.Remote != "" {
		host, _, err := net.SplitHostPort(ev.Remote)
		if err != nil {
			host = ev.Remote
		}
		return "address " + host
	}
	if ev.Client != "" {
		return "client " + ev.Client
	}
	return "broker"
}

// pair is what aggregate events are counted by within a source.
type pair struct{ kind, reason string }

// sourceWindow is one source's current window.
type sourceWindow struct {
	start   time.Time
	written int
	counted map[pair]uint64
	first   time.Time // first event counted in this window
}

// limiter decides per source which events are written: the first Burst of
// each Window; the rest are counted and later written as aggregate events.
// It is not safe for concurrent use (Events guards it).
type limiter struct {
	lim     AuditLimits
	source  func(audit.Event) string // the source an event counts against
	sources map[string]*sourceWindow
	other   *sourceWindow
}

func newLimiter(lim AuditLimits) *limiter {
	return newLimiterBy(lim, eventSource)
}

// newLimiterBy is a limiter whose events count against source(ev) (the
// twin rejected topic counts by device, twin_rejected.go).
func newLimiterBy(lim AuditLimits, source func(audit.Event) string) *limiter {
	return &limiter{lim: lim, source: source, sources: map[string]*sourceWindow{}}
}

// admit reports whether ev is to be written, and returns the aggregates of
// the source's window if ev closed it.
func (l *limiter) admit(ev audit.Event, now time.Time) (bool, []audit.Event) {
	key := l.source(ev)
	w := l.sources[key]
	if w == nil {
		if len(l.sources) < l.lim.MaxSources {
			w = &sourceWindow{start: now}
			l.sources[key] = w
		} else {
			key = otherSource
			if l.other == nil {
				l.other = &sourceWindow{start: now}
			}
			w = l.other
		}
	}
	var flushed []audit.Event
	if now.Sub(w.start) >= l.lim.Window {
		flushed = w.aggregates(key, now)
		*w = sourceWindow{start: now}
	}
	if w.written < l.lim.Burst {
		w.written++
		return true, flushed
	}
	if w.counted == nil {
		w.counted, w.first = map[pair]uint64{}, now
	}
	p := pair{ev.Kind, ev.Reason}
	if _, ok := w.counted[p]; !ok && len(w.counted) >= maxPairsPerSource {
		p = pair{"various", "various"}
	}
	w.counted[p]++
	return false, flushed
}

// sweep closes every window older than Window, forgets its source and
// returns the aggregates; all closes every window (at shutdown).
func (l *limiter) sweep(now time.Time, all bool) []audit.Event {
	var out []audit.Event
	for key, w := range l.sources {
		if all || now.Sub(w.start) >= l.lim.Window {
			out = append(out, w.aggregates(key, now)...)
			delete(l.sources, key)
		}
	}
	if l.other != nil && (all || now.Sub(l.other.start) >= l.lim.Window) {
		out = append(out, l.other.aggregates(otherSource, now)...)
		l.other = nil
	}
	return out
}

// aggregates are the events saying how many were counted in w.
func (w *sourceWindow) aggregates(source string, now time.Time) []audit.Event {
	var out []audit.Event
	for p, n := range w.counted {
		out = append(out, audit.Event{
			Time: now.UTC(), Kind: KindSuppressed, Source: source, OfKind: p.kind, Reason: p.reason, Count: n,
			Detail: fmt.Sprintf("%d more like this (%s, %s) from %s between %s and %s: counted, not written",
				n, p.kind, p.reason, source, w.first.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)),
		})
	}
	return out
}
