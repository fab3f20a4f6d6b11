package signing

import (
	"context"
	"strconv"
	"time"
)

// callerKey carries the caller's identity in a context (WithCaller).
type callerKey struct{}

// WithCaller returns a context that names who is asking the Verifier: one
// MQTT connection, say. A caller that sends one request at a time (as mochi
// does for each connection) is then never made to wait for a batch that
// only it could fill.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

func callerOf(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

// callers estimates how many distinct callers are active: those seen in the
// last window. Requests from unnamed callers count as distinct.
type callers struct {
	window  time.Duration
	seen    map[string]time.Time
	anon    uint64
	pruneAt time.Time
}

func newCallers(window time.Duration) *callers {
	return &callers{window: window, seen: map[string]time.Time{}}
}

// arrived records a request from caller at now.
func (c *callers) arrived(caller string, now time.Time) {
	if caller == "" {
		c.anon++
		caller = "\x00anon" + strconv.FormatUint(c.anon, 10)
	}
	c.seen[caller] = now
	if now.After(c.pruneAt) {
		for k, t := range c.seen {
			if now.Sub(t) > c.window {
				delete(c.seen, k)
			}
		}
		c.pruneAt = now.Add(c.window)
	}
}

// active is the number of callers seen in about the last window (up to
// twice the window: expired ones are pruned once per window).
func (c *callers) active() int { return len(c.seen) }

// dispatch gathers requests and hands them to free workers as jobs.
//
// Single verifications go to any free worker at once: batching does not
// speed them up. A batch goes as soon as a worker is free and one of these
// holds: every active caller not already being served has a request in it
// (nobody else is coming: a lone gateway, or two, are verified at once);
// it has MaxBatch requests; MaxDelay has passed since its first request;
// or the verifier is closing. Handing over whatever had trickled in whenever
// a worker was free kept batches at about 40 with 256 callers on 2 cores,
// and mostly single under the broker (signet bench verify, bench broker
// profiles), where verification is a minority of the work.
func (v *Verifier) dispatch() {
	defer v.wg.Done()
	defer close(v.jobs)
	var batch, other []*request
	queue := v.queue
	free, serving := v.cfg.Workers, 0 // idle workers; requests they are deciding
	active := newCallers(20 * v.cfg.MaxDelay)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	waiting, late := false, false // the batch's delay is running / has run out
	take := func(r *request) {
		v.pending.Add(1)
		active.arrived(r.caller, time.Now())
		if r.ek != nil && !v.quarantined(r.ek) {
			batch = append(batch, r)
		} else {
			other = append(other, r)
		}
	}
	for queue != nil || len(batch)+len(other) > 0 || free < v.cfg.Workers {
		// Gather everything already queued before deciding.
		closed := false
	drain:
		for queue != nil && len(batch)+len(other) < v.cfg.MaxBatch {
			select {
			case r, ok := <-queue:
				if !ok {
					queue, closed = nil, true
					break drain
				}
				take(r)
			default:
				break drain
			}
		}
		if closed {
			continue // the loop's condition may have become false
		}
		if free > 0 {
			var j job
			switch {
			case len(other) > 0:
				j = job{entries: other[:min(len(other), otherChunk)]}
				if other = other[len(j.entries):]; len(other) == 0 {
					other = nil
				}
			case len(batch) > 0 && (len(batch) >= active.active()-serving || len(batch) >= v.cfg.MaxBatch || late || queue == nil):
				j = job{batch: true, entries: batch}
				batch = nil
				if waiting {
					timer.Stop()
				}
				waiting, late = false, false
			}
			if j.entries != nil {
				v.jobs <- j // a free worker is at its receive, or about to be
				free--
				serving += len(j.entries)
				continue
			}
		}
		if len(batch) > 0 && !waiting && !late {
			timer.Reset(v.cfg.MaxDelay)
			waiting = true
		}
		in := queue
		if len(batch)+len(other) >= v.cfg.MaxBatch {
			in = nil // full: back-pressure until a worker takes a job
		}
		select {
		case r, ok := <-in:
			if !ok {
				queue = nil
				continue
			}
			take(r)
		case n := <-v.idle:
			free++
			serving -= n
		case <-timer.C:
			waiting, late = false, true
		}
	}
}
