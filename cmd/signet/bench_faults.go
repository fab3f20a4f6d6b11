package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/bench"
)

func newBenchFaultsCmd() *cobra.Command {
	var o bench.FaultOptions
	var quick, noDisk bool
	var jsonFile, reportDir, serveBinary string
	cmd := &cobra.Command{
		Use:   "faults [--rounds 20] [--devices 20] [--quick] [--json FILE] [--report DIR]",
		Short: "Kill -9 the broker under load and check that no replay is accepted and no acknowledged update is lost",
		Long: `Run this signet binary as a real "signet serve" child on a temporary store
with a flashed fleet of streetlights, drive honest MQTT 5 load (signed state
and telemetry at QoS 1, one PUBACK awaited at a time) and a hostile gateway
client replaying what the devices sent, and SIGKILL the broker at a random
moment of each round. After each restart on the same store it checks that
the store opened, that every acknowledged state update is in the twin (HTTP
API), that every captured message (acknowledged or not) is refused when
replayed, and counts honest messages refused just after the restart (each
device moves its counter forward by --skip on every reconnect).

Then two disk faults: a full disk (the broker runs with RLIMIT_FSIZE at the
store's size, through prlimit) and a store folder that turns read-only; after
each is lifted the broker must start and have lost nothing it acknowledged.

Exit status 1 if any replay was accepted, any acknowledged update lost, or
a restart failed. docs/faults.md explains the figures.`,
		Example: `  signet bench faults
  signet bench faults --rounds 50 --devices 40 --json faults.json --report faults/
  signet bench faults --quick`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if quick {
				if !cmd.Flags().Changed("rounds") {
					o.Rounds = 3
				}
				if !cmd.Flags().Changed("devices") {
					o.Devices = 4
				}
			}
			if o.Rounds < 1 {
				return usagef("--rounds %d: want at least 1", o.Rounds)
			}
			if o.Devices < 1 {
				return usagef("--devices %d: want at least 1", o.Devices)
			}
			if err := checkOutputs(jsonFile, reportDir); err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("faults: finding this signet binary: %w", err)
			}
			if serveBinary != "" {
				bin = serveBinary
			}
			o.Binary, o.Disk = bin, !noDisk
			out := cmd.OutOrStdout()
			if jsonFile == "-" {
				out = cmd.ErrOrStderr()
			}
			bench.FaultTableHeader(out)
			o.Progress = func(r bench.FaultRound) { bench.PrintFaultRound(out, r) }
			rep, runErr := bench.RunFaults(cmd.Context(), o)
			if rep == nil {
				return runErr
			}
			bench.PrintFaultSummary(out, rep)
			if jsonFile != "" {
				if err := bench.WriteJSON(cmd.OutOrStdout(), jsonFile, rep); err != nil {
					return err
				}
			}
			if reportDir != "" {
				if err := bench.WriteFaultReport(reportDir, rep, commandLine()); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runErr
			}
			if rep.Failed() {
				return fmt.Errorf("faults: %d replays accepted, %d acknowledged updates lost, %d failed starts (all must be 0)", rep.ReplaysAccepted, rep.LostAcked, rep.FailedStarts)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Rounds, "rounds", 20, "SIGKILL rounds")
	f.IntVar(&o.Devices, "devices", 20, "honest devices")
	f.Float64Var(&o.Rate, "rate", 100, "messages per second of each honest device (below the broker's per-client rate limit)")
	f.Uint64Var(&o.Skip, "skip", bench.DefaultLeaseSkip, "how far each device moves its counter on every reconnect (2 x the broker's lease block)")
	f.DurationVar(&o.MaxKillAfter, "max-kill-after", 0, "latest kill moment in a round (default 1.5s)")
	f.Uint64Var(&o.Seed, "seed", 0, "seed of the kill moments (0: random; the report shows it)")
	f.StringVar(&serveBinary, "serve-binary", "", "run this signet binary as the broker (default: this one), to test another build")
	f.BoolVar(&noDisk, "no-disk", false, "skip the full-disk and read-only faults")
	f.BoolVar(&quick, "quick", false, "a short smoke run (CI): 3 rounds, 4 devices")
	f.StringVar(&jsonFile, "json", "", "write the report as JSON to this file (- for stdout)")
	f.StringVar(&reportDir, "report", "", "write faults.md and a plot into this directory")
	return cmd
}
