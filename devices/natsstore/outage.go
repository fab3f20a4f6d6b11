package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
)

// ride runs op, and again while it fails because NATS cannot be reached,
// for up to the store's outage budget. Running a write again is safe: a
// lease extension that landed before its answer was lost is then found as
// the stored bound, a conflict the edge honours (it gives up that lease's
// counters, never accepts one twice); a bound or a twin written again is
// the same record.
//
// Once NATS has been unreachable for longer than the budget, every write
// fails with devices.ErrUnavailable after one attempt, without waiting,
// while the connection is down (once it is up again, JetStream may need a
// moment, which a write waits for within the budget), until one succeeds: the edge refuses what needs a write and goes on serving
// the leases it holds, and recovers by itself when NATS returns.
func (s *Store) ride(ctx context.Context, what string, op func() error) error {
	start := time.Now()
	wait := 50 * time.Millisecond
	for {
		err := op()
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			if err == nil {
				s.downSince.Store(0)
			}
			return err
		}
		s.downSince.CompareAndSwap(0, start.UnixNano())
		if down := time.Since(time.Unix(0, s.downSince.Load())); time.Since(start) > s.outage || (down > s.outage && s.nc.Status() != nats.CONNECTED) {
			return fmt.Errorf("nats store: %s: NATS unreachable for %s: %w: %w", what, down.Round(time.Millisecond), devices.ErrUnavailable, err)
		}
		s.log.Warn("NATS unreachable; waiting for it", "op", what, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait = min(2*wait, time.Second)
	}
}

// unreachable reports whether err says that NATS or the stream's quorum
// could not be reached, rather than that the request was refused.
func unreachable(err error) bool {
	var api *jetstream.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout):
		return true
	case errors.As(err, &api):
		return api.Code == 503 // no quorum, no leader yet: JetStream says "try later"
	}
	return false
}
