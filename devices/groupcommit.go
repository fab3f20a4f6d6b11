package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/devices/twin"
)

// committer turns many callers' changes into few store transactions. One
// goroutine writes batches strictly in order; a batch is every change that
// queued while the previous transaction was being written, up to MaxBatch,
// so an idle edge writes a lone change at once and a busy one pays one fsync
// for many messages. Callers wait on their batch's done channel.
type committer struct {
	e     *Edge
	store Store

	mu    sync.Mutex
	queue []*batch // in commit order; the last one takes appends
	// dirty: twins whose security counters changed since they were last
	// written, and since when; dirtyOrder is the same in that order (with
	// stale marks of twins written since, skipped).
	dirty      map[*edgeDevice]time.Time
	dirtyOrder []dirtyMark
	closed     bool
	failure    error

	wake    chan struct{} // cap 1: something to write
	stopped chan struct{} // closed when the goroutine has exited
	company *time.Timer   // the commit delay's timer (gather), stopped when idle

	transactions, changes atomic.Uint64 // written, for CommitCounts
}

// dirtyMark is a twin that became dirty at since.
type dirtyMark struct {
	dev   *edgeDevice
	since time.Time
}

// batch is one future store transaction: changes, and the lease
// extensions written in the same transaction after them.
type batch struct {
	entries []entry
	leases  []*leaseRequest
	done    chan struct{} // closed once written (or failed)
	err     error         // set before done is closed
}

// size is how many changes b carries: its entries and lease extensions.
func (b *batch) size() int { return len(b.entries) + len(b.leases) }

// entry is one change: a key's bound (kid nil: none) and window (nil: the
// bound alone), and a device's twin (doc nil: none), which watchers are
// told about once it is durable.
type entry struct {
	kid       []byte
	highWater uint64
	window    []byte
	dev       *edgeDevice
	doc       *twin.Document // never modified after it is queued
}

func startCommitter(e *Edge) *committer {
	c := newCommitter(e)
	go c.run()
	return c
}

// newCommitter is a committer whose goroutine is not running yet.
func newCommitter(e *Edge) *committer {
	c := &committer{
		e:       e,
		store:   e.store,
		dirty:   map[*edgeDevice]time.Time{},
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		company: time.NewTimer(time.Hour),
	}
	c.company.Stop()
	return c
}

// usable reports why no commit can be taken, if that is so.
func (c *committer) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure != nil {
		return c.failure
	}
	if c.closed {
		return ErrClosed
	}
	return nil
}

// maxBacklog is how many batches may wait behind the one being written
// before a Relaxed caller is made to wait: relaxed trades durability for
// latency, never for unbounded memory when the disk cannot keep up.
const maxBacklog = 4

// enqueue appends en to the open batch and returns that batch, and, when
// more than maxBacklog batches are waiting, the done channel of the oldest,
// for a Relaxed caller to wait on. The caller holds the locks of the key and
// device en changes, so changes to one key or twin enter the queue in the
// order they were made.
func (c *committer) enqueue(en entry) (b *batch, backlog <-chan struct{}) {
	c.mu.Lock()
	if c.closed || c.failure != nil {
		// Lost a race with Close or a failure: nothing will write this.
		err := c.failure
		if err == nil {
			err = ErrClosed
		}
		c.mu.Unlock()
		b := &batch{done: make(chan struct{}), err: err}
		close(b.done)
		return b, nil
	}
	b = c.openBatch()
	b.entries = append(b.entries, en)
	if en.doc != nil {
		// The twin written now includes every counter change before it.
		delete(c.dirty, en.dev)
	}
	if len(c.queue) > maxBacklog {
		backlog = c.queue[0].done
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return b, backlog
}

// extend queues a lease extension for the next round; the key's lock is
// held, so one key's extensions enter the queue in order. A closed or
// failed committer settles it at once with that error.
func (c *committer) extend(r *leaseRequest) {
	c.mu.Lock()
	if c.closed || c.failure != nil {
		err := c.failure
		if err == nil {
			err = ErrClosed
		}
		c.mu.Unlock()
		r.state.lease.ext = nil // the key's lock is held: settle would take it
		r.err = err
		close(r.done)
		return
	}
	b := c.openBatch()
	b.leases = append(b.leases, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// openBatch returns the batch that takes appends; c.mu is held.
func (c *committer) openBatch() *batch {
	if n := len(c.queue); n > 0 && len(c.queue[n-1].entries) < c.e.opt.MaxBatch {
		return c.queue[n-1]
	}
	b := &batch{done: make(chan struct{})}
	c.queue = append(c.queue, b)
	return b
}

// markDirty records that dev's twin has changes (security counters) to be
// written within FlushInterval; dev.mu is held.
func (c *committer) markDirty(dev *edgeDevice) {
	c.mu.Lock()
	if _, already := c.dirty[dev]; !already && !c.closed && c.failure == nil {
		now := time.Now()
		c.dirty[dev] = now
		c.dirtyOrder = append(c.dirtyOrder, dirtyMark{dev, now})
	}
	c.mu.Unlock()
}

func (c *committer) run() {
	defer close(c.stopped)
	tick := time.NewTicker(c.e.opt.FlushInterval)
	defer tick.Stop()
	for {
		// A close that came during the last pass is seen here, not waited
		// for: gather takes wakes while it waits, close's among them.
		c.mu.Lock()
		closing := c.closed
		c.mu.Unlock()
		if !closing {
			select {
			case <-c.wake:
			case <-tick.C: // dirty twins come due even when nothing is queued
			}
			c.mu.Lock()
			closing = c.closed
			c.mu.Unlock()
		}
		// Once closed is seen, nothing more can be queued or marked dirty:
		// this pass writes the rest.
		c.flushDirty(closing)
		for c.round() {
			c.gather()
			c.flushDirty(false)
		}
		if closing {
			return
		}
	}
}

// DefaultCommitDelay is the default of Options.CommitDelay: a small part of
// the 10 ms a state message may take to its PUBACK (the target in
// docs/performance.md), and long enough, under a city's stream of state
// changes, for several to share one transaction (measured there with
// `signet bench broker`).
const DefaultCommitDelay = 2 * time.Millisecond

// commitCompany is how many queued changes end the commit delay: one
// transaction's two fsyncs spread over that many messages cost each of them
// little, so waiting longer for more would only add latency.
const commitCompany = 32

// gather runs after a transaction: if changes queued while it was being
// written, it waits up to CommitDelay for more to join them, so that a
// steady stream of state changes (each device's arriving alone, at
// different moments) shares transactions instead of paying bbolt's two
// fsyncs, and its allocations, each. An idle committer never waits: the
// first change after a pause is written at once. This is PostgreSQL's
// commit_delay, applied only when commits already run back to back.
func (c *committer) gather() {
	if c.e.opt.CommitDelay <= 0 {
		return
	}
	c.company.Reset(c.e.opt.CommitDelay)
	defer c.company.Stop()
	for {
		c.mu.Lock()
		n := 0
		if len(c.queue) > 0 {
			n = c.queue[0].size()
		}
		enough := n == 0 || n >= commitCompany || len(c.queue) > 1 || c.closed
		c.mu.Unlock()
		if enough {
			return
		}
		select {
		case <-c.wake: // a change joined; count again
		case <-c.company.C:
			return
		}
	}
}

// round writes the first queued batch and reports whether there may be more
// to write.
func (c *committer) round() bool {
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.mu.Unlock()
		return false
	}
	b := c.queue[0]
	c.queue = c.queue[1:]
	failure := c.failure
	c.mu.Unlock()

	if failure == nil {
		changes, err := coalesce(b.entries)
		wrote := false
		switch {
		case err != nil:
			failure = c.fail(err, len(b.entries))
		case len(b.leases) > 0:
			failure, wrote = c.writeLeases(b.leases, changes), true
		case len(changes) > 0:
			// A transaction once begun is finished even if the edge is
			// closing: callers are waiting for it.
			if err := c.store.Commit(context.Background(), changes); err != nil {
				failure = c.fail(err, len(b.entries))
			}
			wrote = true
		}
		if wrote && failure == nil {
			c.transactions.Add(1)
			c.changes.Add(uint64(b.size()))
		}
	}
	if failure != nil {
		for _, r := range b.leases {
			if !r.settled() {
				r.settle(failure)
			}
		}
	}
	if failure == nil {
		// Before the callers are released: when a Strict Commit returns,
		// every watcher has been offered its change.
		for _, en := range b.entries {
			if en.doc != nil {
				c.e.watch.publish(TwinChange{Device: en.dev.id, Zone: en.dev.zone, Doc: en.doc})
			}
		}
	}
	b.err = failure
	close(b.done)
	return true
}

// writeLeases writes the batch's changes and lease extensions in one store
// transaction and settles each extension with its outcome.
func (c *committer) writeLeases(reqs []*leaseRequest, changes []Change) error {
	ext := make([]LeaseExtension, len(reqs))
	for i, r := range reqs {
		ext[i] = LeaseExtension{KID: r.kid, From: r.from, To: r.to}
	}
	results, err := c.store.ExtendLeases(context.Background(), ext, changes)
	conflicts, err := twinsAside(results, len(reqs), err) // edge_adopt.go
	if err == nil && len(results) != len(reqs) {
		err = fmt.Errorf("store answered %d lease extensions, asked %d", len(results), len(reqs))
	}
	var failure error
	if err != nil {
		failure = c.fail(err, len(reqs))
	}
	for i, r := range reqs {
		if failure != nil {
			r.settle(failure)
			continue
		}
		if results[i] != nil && !errors.Is(results[i], ErrConflict) {
			failure = c.fail(results[i], len(reqs))
			r.settle(failure)
			continue
		}
		if results[i] != nil {
			c.e.opt.Logger.Warn("lease taken by another writer; refusing its counters", "err", results[i])
		}
		r.settle(results[i])
	}
	if failure == nil && conflicts != nil {
		failure = c.fail(conflicts, len(reqs))
	}
	return failure
}

// fail records a store failure: from now on every commit is refused,
// because memory may be ahead of the disk (fail-stop).
func (c *committer) fail(err error, n int) error {
	if c.e.survivable(err) { // a shared store's answers (edge_adopt.go)
		return err
	}
	failure := fmt.Errorf("%w: %w", ErrStoreFailed, err)
	c.e.opt.Logger.Error("store write failed; refusing further commits", "err", err, "changes", n)
	c.mu.Lock()
	c.failure = failure
	c.dirty, c.dirtyOrder = map[*edgeDevice]time.Time{}, nil
	c.mu.Unlock()
	return failure
}

// flushDirty appends a snapshot of each twin dirty for FlushInterval or
// longer (all: every dirty twin) to the newest batch. Twins become dirty at
// a steady pace under load, so they are written a few at a time rather than
// all in one large transaction each interval, which held every message
// behind it (strict p99 at half load: 26-33 ms, and 8-12 ms without it).
// The snapshot is taken under the device's lock, so every change it
// includes was enqueued before it, in this batch or an earlier one: a twin
// never reaches the disk ahead of the window change of a message it
// reflects.
func (c *committer) flushDirty(all bool) {
	c.mu.Lock()
	cutoff := time.Now().Add(-c.e.opt.FlushInterval)
	var devs []*edgeDevice
	for len(c.dirtyOrder) > 0 {
		m := c.dirtyOrder[0]
		if since, ok := c.dirty[m.dev]; !ok || !since.Equal(m.since) {
			c.dirtyOrder = c.dirtyOrder[1:] // written since it was marked
			continue
		}
		if !all && m.since.After(cutoff) {
			break
		}
		devs = append(devs, m.dev)
		c.dirtyOrder = c.dirtyOrder[1:]
	}
	c.mu.Unlock()
	for _, d := range devs {
		d.mu.Lock()
		c.mu.Lock()
		if _, still := c.dirty[d]; still && c.failure == nil {
			delete(c.dirty, d)
			b := c.openBatch()
			b.entries = append(b.entries, entry{dev: d, doc: d.twin})
		}
		c.mu.Unlock()
		d.mu.Unlock()
	}
}

// close stops new commits, writes what is queued and waits for the writer.
func (c *committer) close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	select {
	case <-c.stopped:
	case <-ctx.Done():
		return fmt.Errorf("devices: closing edge: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failure
}

// coalesce turns a batch into store changes, keeping only the last window of
// each key and the last twin of each device: each is the whole state after
// every earlier change in the batch, so the rest would be overwritten within
// the same transaction anyway. A busy device costs one twin encoding per
// batch, not one per message.
func coalesce(entries []entry) ([]Change, error) {
	seenKID := make(map[string]bool, len(entries))
	seenDev := make(map[*edgeDevice]bool, len(entries))
	changes := make([]Change, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		en := entries[i]
		var ch Change
		if en.kid != nil && !seenKID[string(en.kid)] {
			seenKID[string(en.kid)] = true
			ch.KID, ch.HighWater, ch.Window = en.kid, en.highWater, en.window
		}
		if en.doc != nil && !seenDev[en.dev] {
			seenDev[en.dev] = true
			doc, err := en.doc.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("encoding the twin of %s: %w", en.dev.id, err)
			}
			ch.Device, ch.Twin = en.dev.id, doc
		}
		if ch.KID != nil || ch.Twin != nil {
			changes = append(changes, ch)
		}
	}
	slices.Reverse(changes)
	return changes, nil
}
