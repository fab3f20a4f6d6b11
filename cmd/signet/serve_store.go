package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices/natsstore"
)

// addNATSFlags adds serve's --nats-* flags and returns what applies those
// the user set over the configuration (flags win).
func addNATSFlags(f *pflag.FlagSet) func(cmd *cobra.Command, cfg *broker.Config) {
	var creds, ca string
	f.StringVar(&creds, "nats-creds", "", "NATS credentials file, for --store nats://...")
	f.StringVar(&ca, "nats-ca", "", "PEM CA bundle verifying the NATS servers' TLS certificates, for --store nats://...")
	return func(cmd *cobra.Command, cfg *broker.Config) {
		if cmd.Flags().Changed("nats-creds") {
			cfg.NATS.Creds = creds
		}
		if cmd.Flags().Changed("nats-ca") {
			cfg.NATS.CA = ca
		}
	}
}

// startShared opens the JetStream store that cfg.Store names
// (nats://host:4222[,...]) and starts the broker on it. Nothing is created
// on disk, so a failed start has nothing to undo there.
func startShared(ctx context.Context, cfg broker.Config, logger *slog.Logger) (*broker.Server, error) {
	for _, f := range []struct{ key, path string }{{"nats.creds (--nats-creds)", cfg.NATS.Creds}, {"nats.ca (--nats-ca)", cfg.NATS.CA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	store, err := natsstore.Open(ctx, natsstore.Options{
		Servers: cfg.Store, CredsFile: cfg.NATS.Creds, CAFile: cfg.NATS.CA,
		Replicas: cfg.NATS.Replicas, Timeout: cfg.NATS.Timeout, Outage: cfg.NATS.Outage, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	srv, err := broker.NewWithStore(ctx, cfg, store, logger) // owns store from here
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, errors.Join(err, srv.Shutdown(context.Background()))
	}
	return srv, nil
}
