package devices

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-city/signet/devices/twin"
)

// A store shared by several brokers (devices/natsstore) answers two things
// that one box never sees, and neither means that memory is ahead of the
// store for good, so neither makes the edge fail-stop:
//
//   - another broker changed a twin since this edge last wrote or loaded
//     it (a device that roamed, a command sent through another broker):
//     a *TwinConflictError carrying the stored twin, which the edge adopts
//     and applies the refused change to again;
//   - the store could not be reached for longer than it may wait
//     (ErrUnavailable): that round's messages are refused, and the next
//     round tries again, so the edge recovers by itself when the store
//     returns. Counters stay safe meanwhile: one is accepted only inside a
//     lease the store acknowledged, and a lease whose answer was lost is
//     found as the stored bound next time, a conflict the edge honours.

// ErrUnavailable is a store that cannot be reached now (a shared store's
// servers are down or cut off). A commit that fails with it is refused,
// and the edge goes on: a later commit tries again.
var ErrUnavailable = errors.New("devices: store unavailable")

// TwinConflictError is a twin write refused because another writer changed
// the stored twin since this writer last wrote or read it. A Commit whose
// error holds only TwinConflictErrors has written every other change of
// its group.
type TwinConflictError struct {
	Device string
	Stored []byte // the twin document as stored now, JSON
}

// Error names the device.
func (e *TwinConflictError) Error() string {
	return fmt.Sprintf("twin of device %s: changed by another writer", e.Device)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *TwinConflictError) Is(target error) bool { return target == ErrConflict }

// leaves is every error err is made of (errors.Join, %w).
func leaves(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		var out []error
		for _, e := range u.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	case interface{ Unwrap() error }:
		if inner := u.Unwrap(); inner != nil && !errors.Is(err, ErrUnavailable) {
			return leaves(inner)
		}
	}
	return []error{err}
}

// twinConflicts returns the twin conflicts of err and whether err holds
// nothing else.
func twinConflicts(err error) (conflicts []*TwinConflictError, only bool) {
	only = true
	for _, e := range leaves(err) {
		var c *TwinConflictError
		if errors.As(e, &c) {
			conflicts = append(conflicts, c)
		} else {
			only = false
		}
	}
	return conflicts, only
}

// survivable reports whether a store failure leaves the edge usable: the
// store was unreachable, or other writers changed twins (which the edge
// adopts now, before the committer writes its next round).
func (e *Edge) survivable(err error) bool {
	if errors.Is(err, ErrUnavailable) {
		e.opt.Logger.Warn("store unreachable; refusing what needs a write until it returns", "err", err)
		return true
	}
	conflicts, only := twinConflicts(err)
	if !only {
		return false
	}
	for _, c := range conflicts {
		if err := e.adoptTwin(c.Device, c.Stored); err != nil {
			e.opt.Logger.Error("adopting a twin another broker wrote", "device", c.Device, "err", err)
			return false
		}
	}
	return true
}

// adoptTwin makes the stored twin the device's twin in memory.
func (e *Edge) adoptTwin(device string, stored []byte) error {
	dev, ok := e.index.Load().devices[device]
	if !ok {
		return nil
	}
	t, err := twin.Parse(stored)
	if err != nil {
		return err
	}
	dev.mu.Lock()
	dev.twin = t
	dev.mu.Unlock()
	e.opt.Logger.Info("adopted the twin another broker wrote", "device", device, "version", t.Version)
	return nil
}

// twinsAside separates, from ExtendLeases's answer, twin conflicts that
// came with a full set of lease results: the leases stand, and only those
// twins were not written (Store.ExtendLeases).
func twinsAside(results []error, n int, err error) (conflicts, rest error) {
	if _, only := twinConflicts(err); err != nil && only && len(results) == n {
		return err, nil
	}
	return nil, err
}

// maxRedo bounds how often one change is applied again to a twin that
// other brokers keep changing.
const maxRedo = 4

// redo is what Wait needs to apply a change again to an adopted twin.
type redo struct {
	e   *Edge
	dev *edgeDevice
	k   *KeyRecord
	u   Update
}

// settle turns a batch's error into this change's outcome: a conflict on
// another twin of the batch is no failure of this one (the store wrote the
// rest), and a conflict on this one applies the change again to the twin
// the edge adopted, for up to maxRedo rounds.
func (r *redo) settle(ctx context.Context, next *twin.Document, err error) (*twin.Document, error) {
	for range maxRedo {
		conflicts, only := twinConflicts(err)
		if !only {
			return nil, err
		}
		mine := false
		for _, c := range conflicts {
			mine = mine || c.Device == r.dev.id
		}
		if !mine {
			return next, nil
		}
		r.dev.mu.Lock()
		next, err = r.e.apply(r.dev, r.k, r.u)
		if err != nil {
			r.dev.mu.Unlock()
			return nil, err // the change no longer fits the adopted twin
		}
		b, _ := r.e.com.enqueue(entry{dev: r.dev, doc: next})
		r.dev.twin = next
		r.dev.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("devices: waiting for durable commit: %w", ctx.Err())
		}
		if b.err == nil {
			return next, nil
		}
		err = b.err
	}
	return nil, err
}
