package devices

import (
	"testing"
	"time"
)

// gathering is a committer with no goroutine, for driving gather by hand.
func gathering(delay time.Duration) *committer {
	e := &Edge{opt: Options{CommitDelay: delay}}
	e.opt.fill()
	return newCommitter(e)
}

func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.queue {
		n += len(b.entries)
	}
	return n
}

func change(i int) entry { return entry{kid: []byte{byte(i), byte(i >> 8)}, highWater: 1} }

// TestGatherNeverHoldsAnIdleCommitter: with nothing queued after a
// transaction the committer goes back to waiting at once, however long the
// delay: the first change after a pause is written without one.
func TestGatherNeverHoldsAnIdleCommitter(t *testing.T) {
	c := gathering(time.Hour)
	c.gather() // would wait an hour if it waited at all
	if n := c.queued(); n != 0 {
		t.Fatalf("%d changes queued, want 0", n)
	}
}

// TestGatherWaitsForCompany: a change queued behind a transaction waits for
// others, and the wait ends when commitCompany changes are queued, taking
// every one of them into the next transaction.
func TestGatherWaitsForCompany(t *testing.T) {
	c := gathering(time.Hour)
	c.enqueue(change(0))
	done := make(chan int)
	go func() {
		c.gather()
		done <- c.queued()
	}()
	for i := 1; i < commitCompany; i++ {
		c.enqueue(change(i))
	}
	if n := <-done; n < commitCompany {
		t.Fatalf("gather ended with %d changes queued, want at least %d", n, commitCompany)
	}
	if len(c.queue) != 1 {
		t.Fatalf("%d batches queued, want the one gathered", len(c.queue))
	}
}

// TestGatherEndsOnClose: closing ends the wait, so that Close never waits
// out the delay.
func TestGatherEndsOnClose(t *testing.T) {
	c := gathering(time.Hour)
	c.enqueue(change(0))
	done := make(chan struct{})
	go func() {
		c.gather() // would wait an hour if closing did not end it
		close(done)
	}()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select { // as close sends it; enqueue's may still be there
	case c.wake <- struct{}{}:
	default:
	}
	<-done
}

// TestGatherOff: a negative delay never waits, even with a change queued.
func TestGatherOff(t *testing.T) {
	c := gathering(-1)
	c.enqueue(change(0))
	c.gather() // would wait forever if it waited: nothing else is queued
	if n := c.queued(); n != 1 {
		t.Fatalf("%d changes queued, want 1", n)
	}
}
