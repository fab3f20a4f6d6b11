package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices/natsstore/natsembed"
)

// maxDevCluster bounds --cluster: JetStream replicates at most 5 ways, and
// the demo runs one NATS node per broker.
const maxDevCluster = 5

// serveDevCluster is "serve --dev --cluster n": a local district on one
// machine, n JetStream nodes embedded in this process and n brokers on
// them, each on its own loopback ports, printed. It is a demonstration of
// one MQTT namespace and shared counters, not a way to run a district:
// the nodes share this process's fate (docs/deployment.md).
func serveDevCluster(cmd *cobra.Command, cfg broker.Config, logger *slog.Logger, n int) error {
	if n < 1 || n > maxDevCluster {
		return usagef("--cluster %d: want 1 to %d", n, maxDevCluster)
	}
	dir, err := os.MkdirTemp("", "signet-cluster-")
	if err != nil {
		return fmt.Errorf("--cluster: %w", err)
	}
	defer os.RemoveAll(dir)
	c, err := natsembed.Start(filepath.Join(dir, "nats"), n)
	if err != nil {
		return fmt.Errorf("--cluster: %w", err)
	}
	defer c.Shutdown()
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "signet: %d NATS nodes %s\n", n, c.URLs())
	var brokers []*broker.Server
	stop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var errs []error
		for _, b := range brokers {
			errs = append(errs, b.Shutdown(ctx))
		}
		return errors.Join(errs...)
	}
	for i := range n {
		bc := cfg
		bc.Store, bc.MQTT, bc.HTTP = c.URLs(), "127.0.0.1:0", "127.0.0.1:0"
		bc.Audit = filepath.Join(dir, fmt.Sprintf("audit-%d.jsonl", i+1))
		bc.NATS.Replicas = min(n, 3)
		srv, err := startServer(cmd.Context(), bc, logger.With("broker", i+1))
		if err != nil {
			return errors.Join(fmt.Errorf("--cluster: broker %d: %w", i+1, err), stop())
		}
		brokers = append(brokers, srv)
		fmt.Fprintf(out, "signet: broker %d mqtt %s http %s\n", i+1, srv.MQTTAddr(), srv.HTTPAddr())
	}
	fmt.Fprintf(out, "signet: %d brokers, one MQTT namespace; enrol devices through any broker's API, or with \"signet store migrate --to %s\"\n", n, c.URLs())
	<-cmd.Context().Done()
	fmt.Fprintln(out, "signet: shutting down: draining verification and commits")
	return stop()
}
