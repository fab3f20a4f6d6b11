package natsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// Commit writes a group of window and twin changes, one compare-and-set per
// key and per twin, all at once, and appends every twin whose version grew
// to SIGNET_TWIN. When it returns nil each write is acknowledged by a
// majority of the replicas, so it survives the loss of any minority of the
// NATS nodes. Every record is read and checked before any is written, so a
// conflict found then leaves the store as it was. The group is not one
// transaction across keys, though: a call that fails while writing (NATS
// lost, or a conflict that arose meanwhile) may have written part of it.
// That is safe for the edge, which stops committing after any store
// failure, because bounds only grow and a twin written early is the twin
// the edge holds. While NATS cannot be reached the call waits for it, up
// to Options.Outage, and then writes the whole group again.
func (s *Store) Commit(ctx context.Context, changes []devices.Change) error {
	return s.ride(ctx, "committing", func() error { return s.commit(ctx, changes) })
}

func (s *Store) commit(ctx context.Context, changes []devices.Change) error {
	windows := map[string]devices.Change{}
	twins := map[string][]byte{}
	var kids, devs []string
	for _, c := range changes {
		if c.KID != nil {
			k := string(c.KID)
			prev, ok := windows[k]
			if ok && prev.HighWater > c.HighWater {
				return &devices.ConflictError{Msg: fmt.Sprintf("kid %s: counter bound would go down from %d to %d within one commit",
					signing.FormatKeyID(c.KID), prev.HighWater, c.HighWater)}
			}
			if !ok {
				kids = append(kids, k)
			}
			windows[k] = c // the later change stays, as in one transaction
		}
		if c.Twin != nil {
			if _, ok := twins[c.Device]; !ok {
				devs = append(devs, c.Device)
			}
			twins[c.Device] = c.Twin
		}
	}
	// First every record as stored now, so that a conflict found then
	// leaves everything as it was; then each write at the revision read.
	// A write that loses its compare-and-set to another broker reads and
	// checks that record again (putWindow, putTwin).
	// A twin another broker changed is left out and reported, and the rest
	// written all the same (devices.TwinConflictError).
	seen := make([]stored, len(kids)+len(devs))
	conflicts := make([]error, len(seen))
	if err := parallel(len(seen), func(i int) error {
		var err error
		if i < len(kids) {
			seen[i], err = s.checkWindow(ctx, windows[kids[i]])
		} else {
			d := devs[i-len(kids)]
			seen[i], err = s.checkTwin(ctx, d, twins[d])
			conflicts[i], err = splitConflict(err)
			seen[i].skip = conflicts[i] != nil
		}
		return err
	}); err != nil {
		return err
	}
	grown := make([]*twinHead, len(devs))
	err := parallel(len(seen), func(i int) error {
		if i < len(kids) {
			return s.putWindow(ctx, windows[kids[i]], seen[i])
		}
		if seen[i].skip {
			return nil
		}
		d := devs[i-len(kids)]
		var err error
		grown[i-len(kids)], err = s.putTwin(ctx, d, twins[d], seen[i])
		conflicts[i], err = splitConflict(err)
		return err
	})
	if err != nil {
		return err
	}
	if err := s.appendTwins(ctx, devs, twins, grown); err != nil {
		return err
	}
	return errors.Join(conflicts...)
}

// stored is what a record was when read: its KV revision (0: absent),
// for a twin whether the new document's version is higher, and for a
// window whether it is obsolete and not to be written (checkWindow).
type stored struct {
	rev  uint64
	grew bool
	skip bool
}

// twinHead is the part of a twin document that decides where and whether
// it is written.
type twinHead struct {
	Zone    string `json:"zone"`
	Version uint64 `json:"version"`
}

// checkTwin reads a device's stored twin and refuses doc, with a
// *devices.TwinConflictError carrying the stored twin, when another broker
// wrote it since this store last wrote or loaded it, or when its version
// is lower: doc was made from an older twin, and the edge adopts the
// stored one (twin_conflict.go).
func (s *Store) checkTwin(ctx context.Context, device string, doc []byte) (stored, error) {
	var next twinHead
	if err := json.Unmarshal(doc, &next); err != nil {
		return stored{}, fmt.Errorf("twin of device %s: %w", device, err)
	}
	v, rev, err := s.getLatest(ctx, TwinsBucket, device)
	switch {
	case err != nil:
		return stored{}, fmt.Errorf("nats store: twin of device %s: %w", device, err)
	case v == nil:
		return stored{rev: rev, grew: true}, nil
	}
	var old twinHead
	if err := json.Unmarshal(v, &old); err != nil {
		return stored{}, fmt.Errorf("nats store: twin of device %s: corrupt: %w", device, err)
	}
	if s.otherWriter(device, rev) || old.Version > next.Version {
		return stored{}, s.twinConflict(device, v, rev)
	}
	return stored{rev: rev, grew: next.Version > old.Version}, nil
}

// putTwin replaces a device's twin by compare-and-set on the revision
// checked, reading and checking it again if another writer got there
// first, and returns the twin's head when its version grew (nil for a
// change of its security counters alone).
func (s *Store) putTwin(ctx context.Context, device string, doc []byte, st stored) (*twinHead, error) {
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
			var err error
			if st, err = s.checkTwin(ctx, device, doc); err != nil {
				return nil, err
			}
		}
		rctx, cancel := s.request(ctx)
		var err error
		var rev uint64
		if st.rev == 0 {
			rev, err = s.twins.Create(rctx, device, doc)
		} else {
			rev, err = s.twins.Update(rctx, device, doc, st.rev)
		}
		cancel()
		if casLost(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("nats store: twin of device %s: %w", device, err)
		}
		s.twinRevs.Store(device, rev)
		if !st.grew {
			return nil, nil
		}
		var head twinHead
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, err
		}
		return &head, nil
	}
	return nil, fmt.Errorf("twin of device %s kept changing under %d attempts", device, maxCASAttempts)
}

// appendTwins publishes each twin whose version grew on
// signet.twin.<zone>.<device> and waits for SIGNET_TWIN to hold them all.
func (s *Store) appendTwins(ctx context.Context, devs []string, twins map[string][]byte, grown []*twinHead) error {
	var acks []jetstream.PubAckFuture
	for i, h := range grown {
		if h == nil {
			continue
		}
		zone := h.Zone
		if zone == "" {
			zone = "_"
		}
		f, err := s.js.PublishAsync(TwinSubject(zone, devs[i]), twins[devs[i]])
		if err != nil {
			return fmt.Errorf("nats store: appending the twin of %s to %s: %w", devs[i], TwinStream, err)
		}
		acks = append(acks, f)
	}
	ctx, cancel := s.request(ctx)
	defer cancel()
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("nats store: appending %s to %s: %w", f.Msg().Subject, TwinStream, err)
		case <-ctx.Done():
			return fmt.Errorf("nats store: appending %s to %s: %w", f.Msg().Subject, TwinStream, ctx.Err())
		}
	}
	return nil
}

// TwinSubject is the subject a device's twin updates are appended on.
func TwinSubject(zone, device string) string { return "signet.twin." + zone + "." + device }
