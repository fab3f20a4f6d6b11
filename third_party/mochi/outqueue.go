// SPDX-License-Identifier: MIT

package mqtt

import (
	"sync"

	"github.com/mochi-mqtt/server/v2/packets"
)

// outQueue is a client's queue of packets waiting for its WriteLoop
// (Signet patch, PATCHES.md, 6). mochi used a channel of
// MaximumClientWritesPending slots per client, 8 KiB of pointers made at
// connect and scanned by every garbage collection however empty it was:
// about a third of a broker's live heap with a thousand connections. This
// queue holds the same bound but only the room the client's largest
// backlog so far has needed: a device that is sent a packet now and then keeps a few
// slots, a busy subscriber the room of its bursts (kept, so that its next
// burst allocates nothing), and none more than mochi's channel had.
type outQueue struct {
	mu    sync.Mutex
	pks   []*packets.Packet // pks[head:] wait, oldest first
	head  int
	max   int           // the bound: push refuses beyond it
	ready chan struct{} // signalled after a push: pop may find a packet
}

func newOutQueue(bound int32) *outQueue {
	return &outQueue{max: int(bound), ready: make(chan struct{}, 1)}
}

// push queues pk, or reports false if max packets wait already.
func (q *outQueue) push(pk *packets.Packet) bool {
	q.mu.Lock()
	if len(q.pks)-q.head >= q.max {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.pks) == cap(q.pks) {
		// Reuse the room of the packets already written before growing.
		n := copy(q.pks, q.pks[q.head:])
		clear(q.pks[n:])
		q.pks, q.head = q.pks[:n], 0
	}
	if len(q.pks) == cap(q.pks) {
		// Grow as append would, but never past the bound.
		grown := make([]*packets.Packet, len(q.pks), min(max(2*cap(q.pks), 4), q.max))
		copy(grown, q.pks)
		q.pks = grown
	}
	q.pks = append(q.pks, pk)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a signal is pending already
	}
	return true
}

// pop takes the oldest waiting packet (false: none waits).
func (q *outQueue) pop() (*packets.Packet, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.pks) {
		return nil, false
	}
	pk := q.pks[q.head]
	q.pks[q.head] = nil
	q.head++
	if q.head == len(q.pks) {
		q.pks, q.head = q.pks[:0], 0
	}
	return pk, true
}

// len is how many packets wait.
func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pks) - q.head
}
