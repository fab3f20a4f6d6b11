package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// pipelines let several messages of one client (a gateway) be checked at
// once while keeping them in the order the client sent them. mochi reads a
// client's packets one at a time and runs OnPublish on that reader, so a
// hook that waited there for verification and a durable commit would hold
// a gateway to one message per commit. Instead the hook gives each message
// a turn and returns; the turns of one client commit in order (each stages
// its commit after the one before) and are acknowledged in order (MQTT
// 3.1.1 §4.6, MQTT 5 §4.6: PUBACKs in the order of the PUBLISHes, and each
// topic an ordered topic).
type pipelines struct {
	mu  sync.Mutex
	by  map[*mqtt.Client]*pipeline
	max int // turns in flight per client
}

// pipeline is one client's turns in flight.
type pipeline struct {
	slots chan struct{} // one per turn in flight: the client's reader waits when full
	last  *turn         // the newest turn
	n     int
}

// turn is one message's place in its client's order.
type turn struct {
	prev      *turn         // the turn before (nil: none in flight)
	staged    chan struct{} // closed once this message's commit is queued, or it will not commit
	delivered chan struct{} // closed once it has been acknowledged or refused
}

func newPipelines(max int) *pipelines {
	return &pipelines{by: map[*mqtt.Client]*pipeline{}, max: max}
}

// join gives the next message of cl a turn. With onlyIfBusy, a client with
// nothing in flight gets none (nil): its message need not wait for any.
// When cl has max turns in flight, join waits for one to finish: that is
// the back-pressure on a client that sends faster than it is checked.
func (ps *pipelines) join(cl *mqtt.Client, onlyIfBusy bool) *turn {
	ps.mu.Lock()
	p := ps.by[cl]
	if p == nil {
		if onlyIfBusy {
			ps.mu.Unlock()
			return nil
		}
		p = &pipeline{slots: make(chan struct{}, ps.max)}
		ps.by[cl] = p
	}
	t := &turn{prev: p.last, staged: make(chan struct{}), delivered: make(chan struct{})}
	p.last = t
	p.n++
	ps.mu.Unlock()
	p.slots <- struct{}{}
	return t
}

// afterPrevStaged waits until the turn before t has queued its commit (nil:
// a message checked outside any turn, which waits for none).
func (t *turn) afterPrevStaged() {
	if t != nil && t.prev != nil {
		<-t.prev.staged
	}
}

// markStaged says that t's commit is queued, or that there will be none,
// once the turn before t has said so (nil: nothing to say).
func (t *turn) markStaged() {
	if t != nil {
		t.afterPrevStaged()
		close(t.staged)
	}
}

// afterPrevDelivered waits until the turn before t has been acknowledged
// or refused, and lets it go.
func (t *turn) afterPrevDelivered() {
	if t.prev != nil {
		<-t.prev.delivered
		t.prev = nil
	}
}

// leave ends a turn of cl that has been delivered: cl has one turn fewer in
// flight.
func (ps *pipelines) leave(cl *mqtt.Client) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.by[cl]
	<-p.slots
	if p.n--; p.n == 0 {
		delete(ps.by, cl)
	}
}
