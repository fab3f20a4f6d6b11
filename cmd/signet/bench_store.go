package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/signet-city/signet/bench"
	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/spf13/cobra"
)

func newBenchStoreCmd() *cobra.Command {
	var deviceList, modeList, storeKind string
	var seconds float64
	var committers int
	var asJSON bool
	var applyNATS func(*cobra.Command, *broker.Config) // --nats-creds, --nats-ca: serve's own flags
	cmd := &cobra.Command{
		Use:   "store [--store bbolt|nats-embedded|nats://host:4222[,...]] [--devices 1,100,10000] [--seconds N] [--modes strict,relaxed] [--json]",
		Short: "Measure group commits: commits/s and p99 commit latency",
		Long: `Measure the devices group committer on a fresh embedded store (bbolt, in the
temporary directory) for each device count and durability mode: --committers
goroutines commit signed-state updates (window test-and-set, twin merge,
durable write) for --seconds each, spread over the devices.

Reported per run: commits per second, p50 and p99 latency of Commit, store
transactions (one fsync each), the mean commits per transaction, and "late":
updates refused as replays because other committers of the same device moved
its window past them (possible only with more committers than devices). Strict
latency includes the fsync; relaxed returns before it, which risks the last
few ms of accepted state on power loss. The numbers depend on the disk: run it
on the edge box's own disk, with nothing else busy.

--store nats-embedded measures the JetStream store instead (devices/natsstore),
on a fresh 3-node cluster embedded in the process per run, replicas 3: every
twin write and lease extension is a compare-and-set acknowledged by two of the
three nodes. "leases/s" is the counter lease extensions taken per second
(one per key per lease_block counters, docs/counters.md).

--store nats://host:4222[,...] measures the JetStream cluster those servers
form (with --nats-creds and --nats-ca as serve takes them), replicas 3. The
benchmark writes into that cluster: it enrols devices, takes their counter
leases and writes their twins. Give it a scratch cluster, never a city's.
Each run enrols its devices under ids with a random prefix of its own, so
runs can repeat against one cluster, and at its end (also after a failure or
an interrupt) revokes them and removes them again: registry records, leases,
twins and the twin documents published for them, so the cluster is left as
it was found. The registry is one KV value, so a run's devices must fit in
the servers' max_payload (1 MB by default: a few thousand devices).`,
		Example: `  signet bench store
  signet bench store --devices 10000 --seconds 10 --modes strict
  signet bench store --json > store.json
  signet bench store --store nats-embedded --devices 1,100,1000 --modes strict
  signet bench store --store nats://scratch-1:4222,nats://scratch-2:4222 --nats-creds bench.creds --devices 1,100,1000`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			counts, err := parseCounts(deviceList)
			if err != nil {
				return usagef("--devices: %v", err)
			}
			var modes []devices.Durability
			for _, m := range strings.Split(modeList, ",") {
				d, err := devices.ParseDurability(strings.TrimSpace(m))
				if err != nil {
					return usagef("--modes: %v", err)
				}
				modes = append(modes, d)
			}
			if seconds <= 0 {
				return usagef("--seconds %v: must be positive", seconds)
			}
			if committers <= 0 {
				return usagef("--committers %d: must be positive", committers)
			}
			cfg := bench.StoreConfig{
				Devices:    counts,
				Modes:      modes,
				Duration:   time.Duration(seconds * float64(time.Second)),
				Committers: committers,
			}
			var nc broker.Config
			applyNATS(cmd, &nc)
			if err := setBenchStore(&cfg, storeKind, natsAccess{creds: nc.NATS.Creds, ca: nc.NATS.CA}); err != nil { // bench_store_nats.go
				return err
			}
			out := cmd.OutOrStdout()
			// Fixed-width columns, so that each row can be printed as soon
			// as its run ends.
			const row = "%7v  %-7v  %10v  %9v  %7v  %7v  %12v  %10v  %5v  %8v\n"
			progress := func(r bench.StoreResult) {
				fmt.Fprintf(out, row, r.Devices, r.Mode, r.Committers, fmt.Sprintf("%.0f", r.CommitsPerSec),
					fmt.Sprintf("%.2f", r.P50Millis), fmt.Sprintf("%.2f", r.P99Millis), r.Transactions, fmt.Sprintf("%.1f", r.MeanBatch), r.Late,
					fmt.Sprintf("%.0f", r.LeasesPerSec))
			}
			if asJSON {
				progress = nil
			} else {
				fmt.Fprintf(out, "store %s\n", storeKind)
				fmt.Fprintf(out, row, "devices", "mode", "committers", "commits/s", "p50 ms", "p99 ms", "transactions", "mean batch", "late", "leases/s")
			}
			results, err := bench.MeasureStore(cmd.Context(), cfg, progress)
			if err != nil {
				return benchStoreHint(err)
			}
			if asJSON {
				return writeJSON(out, results)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&storeKind, "store", "bbolt", "bbolt (a file in the temporary directory), nats-embedded (a 3-node JetStream cluster in the process) or nats://host:4222[,...] (a scratch cluster: the benchmark writes devices, leases and twins into it)")
	applyNATS = addNATSFlags(cmd.Flags())
	cmd.Flags().StringVar(&deviceList, "devices", "1,100,10000", "device counts, comma-separated")
	cmd.Flags().StringVar(&modeList, "modes", "strict,relaxed", "durability modes, comma-separated")
	cmd.Flags().Float64Var(&seconds, "seconds", 3, "duration of each run")
	cmd.Flags().IntVar(&committers, "committers", 64, "concurrent committers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// parseCounts parses "1,100,10000".
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 1_000_000 {
			return nil, fmt.Errorf("%q is not a device count (1 to 1000000)", f)
		}
		out = append(out, n)
	}
	return out, nil
}
