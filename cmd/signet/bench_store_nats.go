package main

import (
	"context"
	"path/filepath"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natsembed"
)

// benchStoreOpener is how "bench store --store KIND" opens a fresh store
// per run: nil for bbolt (the benchmark's own), or JetStream on a new
// embedded 3-node cluster, replicas 3. A nats:// URL is refused: the
// benchmark enrols thousands of devices and writes their twins, which a
// real district's cluster must never receive.
func benchStoreOpener(kind string) (func(context.Context, string) (devices.Store, error), error) {
	switch {
	case kind == "bbolt":
		return nil, nil
	case kind == "nats-embedded":
		return openEmbeddedNATS, nil
	case natsstore.IsURL(kind):
		return nil, usagef("--store %s: the benchmark writes devices and twins; give nats-embedded, never a district's cluster", natsstore.Redact(kind))
	}
	return nil, usagef("--store %q: want bbolt or nats-embedded", kind)
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
