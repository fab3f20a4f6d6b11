package natsstore

import (
	"context"
	"fmt"

	"github.com/signet-city/signet/devices"
)

// Migrate copies everything in from (a bbolt store, say) into s, which must
// hold no registry yet: the counter bounds, saved windows and twins first,
// then the whole registry in one write, so that a broker already watching s
// never sees a key without its bound. Registry revisions start again at 1.
// Stop the brokers on from first: a counter accepted after the copy would
// be missing from it.
func Migrate(ctx context.Context, from devices.Store, s *Store) (*devices.Snapshot, error) {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(doc.Devices) + len(doc.Operators) + len(doc.Authorities); n > 0 {
		return nil, fmt.Errorf("nats store: already holds a registry (%d records); migrate into an empty one", n)
	}
	snap, err := from.Load(ctx)
	if err != nil {
		return nil, err
	}
	b := devices.Batch{}
	for _, d := range snap.Devices {
		d.Revision = 0
		b.Devices = append(b.Devices, d)
	}
	for _, o := range snap.Operators {
		o.Revision = 0
		b.Operators = append(b.Operators, o)
	}
	for _, a := range snap.Authorities {
		a.Revision = 0
		b.Authorities = append(b.Authorities, a)
	}
	for _, w := range snap.Windows {
		b.Changes = append(b.Changes, devices.Change{KID: w.KID, HighWater: w.HighWater, Window: w.State})
	}
	for _, tw := range snap.Twins {
		b.Changes = append(b.Changes, devices.Change{Device: tw.Device, Twin: tw.Doc})
	}
	if err := s.Write(ctx, b); err != nil {
		return nil, fmt.Errorf("nats store: migrating: %w", err)
	}
	return snap, nil
}
