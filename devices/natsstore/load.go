package natsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
)

// Load reads the registry, every lease record and every twin. The three
// are read one after the other, not as one snapshot; a lease written in
// between only raises a bound, which the edge learns at its next extension
// anyway.
func (s *Store) Load(ctx context.Context) (*devices.Snapshot, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return nil, err
	}
	snap := &devices.Snapshot{}
	for _, r := range doc.Devices {
		r.Value.Revision = r.Rev
		snap.Devices = append(snap.Devices, r.Value)
	}
	for _, r := range doc.Operators {
		r.Value.Revision = r.Rev
		snap.Operators = append(snap.Operators, r.Value)
	}
	for _, r := range doc.Authorities {
		r.Value.Revision = r.Rev
		snap.Authorities = append(snap.Authorities, r.Value)
	}
	sort.Slice(snap.Devices, func(i, j int) bool { return snap.Devices[i].ID < snap.Devices[j].ID })
	sort.Slice(snap.Operators, func(i, j int) bool { return snap.Operators[i].ID < snap.Operators[j].ID })
	sort.Slice(snap.Authorities, func(i, j int) bool { return snap.Authorities[i].ID < snap.Authorities[j].ID })

	if err := s.each(ctx, s.leases, func(key string, v []byte, _ uint64) error {
		kid, err := hex.DecodeString(key)
		if err != nil || len(v) < 8 {
			return fmt.Errorf("nats store: lease record %q: corrupt", key)
		}
		w := devices.Window{KID: kid, HighWater: binary.BigEndian.Uint64(v)}
		if len(v) > 8 {
			w.State = v[8:]
		}
		snap.Windows = append(snap.Windows, w)
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(snap.Windows, func(i, j int) bool { return bytes.Compare(snap.Windows[i].KID, snap.Windows[j].KID) < 0 })
	twinRevs := map[string]uint64{}
	if err := s.each(ctx, s.twins, func(key string, v []byte, rev uint64) error {
		snap.Twins = append(snap.Twins, devices.Twin{Device: key, Doc: v})
		twinRevs[key] = rev
		return nil
	}); err != nil {
		return nil, err
	}
	s.learnTwins(snap.Devices, twinRevs)
	sort.Slice(snap.Twins, func(i, j int) bool { return snap.Twins[i].Device < snap.Twins[j].Device })
	return snap, nil
}

// each calls fn for the latest value of every key of kv, streamed by one
// watch (one request, not one per key).
func (s *Store) each(ctx context.Context, kv jetstream.KeyValue, fn func(key string, value []byte, rev uint64) error) error {
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("nats store: reading bucket %s: %w", kv.Bucket(), err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("nats store: reading bucket %s: %w", kv.Bucket(), ctx.Err())
			}
			if e == nil {
				return nil // the initial values are all delivered
			}
			if err := fn(e.Key(), e.Value(), e.Revision()); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("nats store: reading bucket %s: %w", kv.Bucket(), ctx.Err())
		}
	}
}
