package devices

import (
	"errors"
	"fmt"

	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/signing"
)

// DefaultLeaseBlock is B when Options.LeaseBlock is 0: as wide as the
// smallest replay window a device may count on, so a device that skips 2·B
// on reconnect clears any bound a crash left behind.
const DefaultLeaseBlock = 1024

// Bounds of Options.LeaseBlock: below 2 no lease could be extended ahead
// of use (B/2 would be 0); above 1<<24 a crash would cost an honest device
// that does not skip ahead millions of refused counters, surely a typo.
const (
	MinLeaseBlock = 2
	MaxLeaseBlock = 1 << 24
)

// ValidLeaseBlock checks a lease block size (0: the default).
func ValidLeaseBlock(b uint64) error {
	if b != 0 && (b < MinLeaseBlock || b > MaxLeaseBlock) {
		return fmt.Errorf("lease block %d: want %d to %d counters (0: %d)", b, MinLeaseBlock, MaxLeaseBlock, DefaultLeaseBlock)
	}
	return nil
}

// maxLeaseAttempts bounds how often one message asks for a lease: each
// attempt after the first follows a conflict with another writer, and a
// store whose bound keeps moving must not hold a reader forever.
const maxLeaseAttempts = 4

// leaseState is one key's counter lease (docs/counters.md). The key's mu is
// held for every use.
type leaseState struct {
	// bound is the key's stored bound, durable: the edge may accept any
	// counter up to it that its window has not seen, and it is the From
	// of the next extension (compare-and-set).
	bound uint64
	// exact: the stored record is a whole window saved at a clean stop,
	// which would accept again what is accepted now, so nothing is until
	// the record is rewritten as a bound.
	exact bool
	// ext is the extension in flight, or nil; there is at most one per key.
	ext *leaseRequest
}

// covers reports whether c may be accepted with no store write.
func (l *leaseState) covers(c uint64) bool { return !l.exact && c <= l.bound }

// leaseRequest is one extension on its way through the group committer.
type leaseRequest struct {
	state    *keyState
	kid      []byte
	from, to uint64
	done     chan struct{} // closed once the outcome is applied to state
	err      error         // a store failure (a conflict is applied, not returned)
}

// awaitLease returns nil once the key's lease covers c and its window has
// not seen c, extending the lease first when it must (durable before c is
// accepted). k.state.mu is held on entry and on return; it is released
// while the extension is written, so a covered counter of the same key need
// not wait behind it.
func (e *Edge) awaitLease(k *KeyRecord, c uint64) error {
	st := k.state
	for attempt := 0; ; attempt++ {
		if !st.window.Check(c) {
			return replayRejection(k.KID, c)
		}
		if st.lease.covers(c) {
			return nil
		}
		if attempt == maxLeaseAttempts {
			return signing.Reject(signing.ReasonReplay, "protected.piv", "counter %d of kid %s: no lease could be taken for it", c, signing.FormatKeyID(k.KID))
		}
		r := st.lease.ext
		if r == nil {
			if r = e.requestLease(k, c); r == nil {
				return replayRejection(k.KID, c) // the counter space is spent
			}
		}
		st.mu.Unlock()
		<-r.done
		st.mu.Lock()
		if r.err != nil {
			return r.err
		}
	}
}

// extendAhead asks for a lease to H+B when fewer than B/2 counters of the
// lease are left above the highest accepted one H, so that honest traffic
// finds its lease durable already. The bound never runs more than B ahead
// of H, which is all a crash can cost a device that does not skip ahead.
// k.state.mu is held.
func (e *Edge) extendAhead(k *KeyRecord) {
	l := &k.state.lease
	if l.ext != nil || l.exact || l.bound-k.state.window.Highest() >= e.opt.LeaseBlock/2 {
		return
	}
	e.requestLease(k, k.state.window.Highest())
}

// requestLease queues an extension to c+B, and at least one above the
// stored bound, for the committer's next round, or returns nil if the
// counter space has no room left. k.state.mu is held.
func (e *Edge) requestLease(k *KeyRecord, c uint64) *leaseRequest {
	l := &k.state.lease
	to := uint64(replay.MaxCounter)
	if c < replay.MaxCounter-e.opt.LeaseBlock {
		to = c + e.opt.LeaseBlock
	}
	if to <= l.bound {
		if l.bound >= replay.MaxCounter {
			return nil
		}
		to = l.bound + 1 // a late counter of a clean-stop window: rewrite the record
	}
	r := &leaseRequest{state: k.state, kid: k.KID, from: l.bound, to: to, done: make(chan struct{})}
	l.ext = r
	e.com.extend(r)
	return r
}

// settled reports whether settle has run.
func (r *leaseRequest) settled() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// settle applies the store's answer to r (nil, a *LeaseConflictError, or a
// failure of the whole round) and releases its waiters.
func (r *leaseRequest) settle(outcome error) {
	st := r.state
	st.mu.Lock()
	var conflict *LeaseConflictError
	switch {
	case outcome == nil:
		st.lease = leaseState{bound: r.to}
		st.compact = true // the record is the bound alone now
	case errors.As(outcome, &conflict):
		// Another writer moved the bound. Everything up to its bound (and
		// up to ours, should the store have gone back) is refused from now
		// on, the unused rest of our own lease too: simpler than tracking
		// the gap, and it costs only late messages. The next extension
		// starts from what the store holds.
		st.lease = leaseState{bound: conflict.Stored}
		st.window = replay.Resume(max(conflict.Stored, r.from))
		st.compact = true
	default:
		st.lease.ext = nil
		r.err = outcome
	}
	st.mu.Unlock()
	close(r.done)
}
