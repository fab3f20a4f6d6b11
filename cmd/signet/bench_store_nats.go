package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nats.go"

	"github.com/signet-city/signet/bench"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natsembed"
)

// natsAccess is how bench store reaches a NATS cluster given by URL: the
// --nats-creds and --nats-ca files that serve takes too.
type natsAccess struct {
	creds, ca string
}

// setBenchStore sets how "bench store --store KIND" opens its store per
// run: bbolt (the benchmark's own), JetStream on a new embedded 3-node
// cluster, or JetStream on the cluster that a nats:// URL names. That
// cluster outlives the run, so each run removes its devices again at the
// end: revoked first, then forgotten (natsstore.Store.Forget), leases,
// twins and published twin documents with them.
func setBenchStore(cfg *bench.StoreConfig, kind string, access natsAccess) error {
	switch {
	case kind == "bbolt":
		return nil
	case kind == "nats-embedded":
		cfg.Open = openEmbeddedNATS
		return nil
	case natsstore.IsURL(kind):
		for _, f := range []struct{ flag, path string }{{"--nats-creds", access.creds}, {"--nats-ca", access.ca}} {
			if f.path == "" {
				continue
			}
			if _, err := os.Stat(f.path); err != nil {
				return usagef("%s: %v", f.flag, err)
			}
		}
		cfg.Open = func(ctx context.Context, _ string) (devices.Store, error) {
			return natsstore.Open(ctx, natsstore.Options{Servers: kind, CredsFile: access.creds, CAFile: access.ca, Name: "signet-bench"})
		}
		cfg.Remove = removeBenchDevices
		return nil
	}
	return usagef("--store %q: want bbolt, nats-embedded or nats://host:4222[,...]", kind)
}

// removeBenchDevices revokes the run's devices, then forgets them: the
// store forgets only revoked devices, so that nothing but this benchmark's
// throwaway keys can lose its counters this way.
func removeBenchDevices(ctx context.Context, s devices.Store, enrolled []devices.Device) error {
	ns, ok := s.(*natsstore.Store)
	if !ok {
		return fmt.Errorf("store %T cannot forget devices", s)
	}
	revoked := make([]devices.Device, len(enrolled))
	ids := make([]string, len(enrolled))
	for i, d := range enrolled {
		d.Keys = append([]devices.Key(nil), d.Keys...)
		for j := range d.Keys {
			d.Keys[j].Status = devices.StatusRevoked
		}
		// Enrolled by this run and changed by nothing since: the
		// record's first revision.
		d.Revision = 1
		revoked[i], ids[i] = d, d.ID
	}
	if err := s.Write(ctx, devices.Batch{Devices: revoked}); err != nil {
		return fmt.Errorf("revoking: %w", err)
	}
	return ns.Forget(ctx, ids)
}

// benchStoreHint explains an error that a NATS server's limit caused.
func benchStoreHint(err error) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return fmt.Errorf("%w (the registry is one KV value, so every device of a run must fit in the servers' max_payload: raise it, or give fewer --devices)", err)
	}
	return err
}

// embeddedStore is a JetStream store that also stops its embedded cluster
// when closed.
type embeddedStore struct {
	*natsstore.Store
	cluster *natsembed.Cluster
}

// Close closes the store, then the cluster.
func (s embeddedStore) Close() error {
	err := s.Store.Close()
	s.cluster.Shutdown()
	return err
}

func openEmbeddedNATS(ctx context.Context, dir string) (devices.Store, error) {
	c, err := natsembed.Start(filepath.Join(dir, "nats"), 3)
	if err != nil {
		return nil, err
	}
	s, err := natsstore.Open(ctx, natsstore.Options{Servers: c.URLs(), Replicas: 3})
	if err != nil {
		c.Shutdown()
		return nil, err
	}
	return embeddedStore{Store: s, cluster: c}, nil
}
