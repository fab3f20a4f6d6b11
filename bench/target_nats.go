package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natsembed"
)

// ModeStrictNATS is the real Signet broker, strict durability, on the
// JetStream store of a 3-node cluster embedded in the same process
// (replicas 3): what a district's broker pays for a shared store on one
// machine, beside strict on bbolt.
const ModeStrictNATS = "strict-nats"

// startSignetNATS is startSignet on an embedded JetStream cluster.
func startSignetNATS(ctx context.Context, o TargetOptions, dir string, cleanup func()) (*Target, error) {
	c, err := natsembed.Start(filepath.Join(dir, "nats"), 3)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("target %s: %w", o.Mode, err)
	}
	stop := func() { c.Shutdown(); cleanup() }
	store, err := natsstore.Open(ctx, natsstore.Options{Servers: c.URLs(), Replicas: 3, Logger: o.Logger})
	if err != nil {
		stop()
		return nil, fmt.Errorf("target %s: %w", o.Mode, err)
	}
	// The registry is one document: one write (natsembed allows a
	// benchmark's size).
	if err := store.Write(ctx, devices.Batch{Devices: o.Devices}); err != nil {
		store.Close()
		stop()
		return nil, fmt.Errorf("target %s: enrolling %d devices: %w", o.Mode, len(o.Devices), err)
	}
	cfg, err := targetConfig(o, c.URLs())
	if err != nil {
		store.Close()
		stop()
		return nil, err
	}
	cfg.Durability = ModeStrict
	srv, err := broker.NewWithStore(ctx, cfg, store, o.Logger) // owns store from here
	if err != nil {
		stop()
		return nil, fmt.Errorf("target %s: %w", o.Mode, err)
	}
	if err := srv.Start(); err != nil {
		err = errors.Join(fmt.Errorf("target %s: %w", o.Mode, err), srv.Shutdown(ctx))
		stop()
		return nil, err
	}
	return &Target{addr: srv.MQTTAddr(), metrics: srv.Metrics(), close: func(ctx context.Context) error {
		defer stop()
		return srv.Shutdown(ctx)
	}}, nil
}
