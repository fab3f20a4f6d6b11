package natsstore

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
)

// forgetParallel bounds the purge requests Forget has in flight: enough to
// hide the round trips of an R3 cluster, few enough not to flood it.
const forgetParallel = 32

// Forget removes revoked devices from the store altogether: each one's
// lease records, its twin and its published twin documents, then its
// registry record, so that a cluster a benchmark wrote into is left as it
// was found. It is for throwaway devices whose private keys are gone:
// without the lease record a key's used counters are forgotten, so a
// device enrolled again with the same key would have its old messages
// accepted. A real device is revoked, never forgotten. Forget therefore
// refuses, before touching anything, a device that is not enrolled or
// still holds an active key. ids must be device ids (a-z, 0-9 and -), as
// the registry holds them, so that none can widen a purge's subject.
func (s *Store) Forget(ctx context.Context, ids []string) error {
	doc, _, err := s.readRegistry(ctx)
	if err != nil {
		return err
	}
	var kids [][]byte
	subjects := map[string][]string{} // stream -> subjects to purge
	for _, id := range ids {
		if err := topic.ValidID("device", id); err != nil {
			return fmt.Errorf("nats store: forgetting: %w", err)
		}
		r, ok := doc.Devices[id]
		if !ok {
			return fmt.Errorf("nats store: forgetting device %q: %w", id, devices.ErrNotFound)
		}
		for _, k := range r.Value.Keys {
			if k.Status != devices.StatusRevoked {
				return fmt.Errorf("nats store: forgetting device %q: key %s is %s; only a revoked device may be forgotten", id, hex.EncodeToString(k.KID), k.Status)
			}
			kids = append(kids, k.KID)
		}
		subjects["KV_"+TwinsBucket] = append(subjects["KV_"+TwinsBucket], "$KV."+TwinsBucket+"."+id)
		// Any zone: a twin document names its own, "_" when it has none.
		subjects[TwinStream] = append(subjects[TwinStream], TwinSubject("*", id))
	}
	for _, kid := range kids {
		subjects["KV_"+LeasesBucket] = append(subjects["KV_"+LeasesBucket], "$KV."+LeasesBucket+"."+leaseKey(kid))
	}
	// The data goes first and the registry records last: a Forget cut
	// short leaves revoked devices in the registry, where a second Forget
	// finds them, rather than lease records no device names.
	for stream, subs := range subjects {
		if err := s.purgeSubjects(ctx, stream, subs); err != nil {
			return err
		}
	}
	for _, kid := range kids {
		s.revs.Delete(leaseKey(kid))
	}
	for _, id := range ids {
		s.twinRevs.Delete(id)
	}
	return s.dropRecords(ctx, ids)
}

// purgeSubjects removes every message of each subject from stream, leaving
// no delete marker (a KV Delete or Purge would leave one per key).
func (s *Store) purgeSubjects(ctx context.Context, stream string, subjects []string) error {
	rctx, cancel := s.request(ctx)
	st, err := s.js.Stream(rctx, stream)
	cancel()
	if err != nil {
		return fmt.Errorf("nats store: stream %s: %w", stream, err)
	}
	for start := 0; start < len(subjects); start += forgetParallel {
		batch := subjects[start:min(start+forgetParallel, len(subjects))]
		err := parallel(len(batch), func(i int) error {
			rctx, cancel := s.request(ctx)
			defer cancel()
			if err := st.Purge(rctx, jetstream.WithPurgeSubject(batch[i])); err != nil {
				return fmt.Errorf("nats store: purging %s from %s: %w", batch[i], stream, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// dropRecords deletes the devices' registry records by compare-and-set on
// the registry, as Write does; a device already gone is no error.
func (s *Store) dropRecords(ctx context.Context, ids []string) error {
	return s.updateRegistry(ctx, "removal", func(doc *registryDoc) error {
		for _, id := range ids {
			if r, ok := doc.Devices[id]; ok {
				for _, k := range r.Value.Keys {
					if k.Status != devices.StatusRevoked { // re-enabled since the check
						return fmt.Errorf("nats store: forgetting device %q: key %s is %s again", id, hex.EncodeToString(k.KID), k.Status)
					}
				}
			}
			delete(doc.Devices, id)
		}
		return nil
	})
}
