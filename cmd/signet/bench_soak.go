package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/bench"
)

func newBenchSoakCmd() *cobra.Command {
	var o bench.SoakOptions
	var jsonFile, reportDir, serveBinary string
	var failOnGrowth bool
	cmd := &cobra.Command{
		Use:   "soak --duration D [--devices 20] [--json FILE] [--report DIR]",
		Short: "Run honest and hostile load together for a long time and watch the broker's memory and goroutines",
		Long: `Run this signet binary as a real "signet serve" child on a temporary store
with a flashed fleet, drive honest signed load (MQTT 5, QoS 1, --rate
messages per second per device) and a hostile client logged in as a
compromised device sending every attack kind of the attack library in turn
(--attack-rate per second) for --duration, and sample the broker every
--sample: its resident memory (VmRSS in /proc/PID/status), its Go heap in use
and its goroutines (go_memstats_heap_inuse_bytes and go_goroutines on its
/metrics).

Every error is counted: an honest message refused or left without a PUBACK,
an honest session that failed, a hostile message accepted, a sample that could
not be read, the broker exiting. Memory grew if, after the warm-up (a fifth
of the run unless --warmup), the median of the last third of the samples
exceeds 1.10 x the median of the first third plus 4 MiB (goroutines: plus 10).
docs/faults.md explains the figures.

Exit status 1 on any error, and with --fail-on-growth when memory grew.`,
		Example: `  signet bench soak --duration 30m --report soak/
  signet bench soak --duration 20s --json soak.json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Duration <= 0 {
				return usagef("--duration %v: give a positive duration, e.g. --duration 30m", o.Duration)
			}
			if o.Devices < 1 {
				return usagef("--devices %d: want at least 1", o.Devices)
			}
			if o.Rate <= 0 || o.AttackRate <= 0 {
				return usagef("--rate and --attack-rate must be positive")
			}
			if err := checkOutputs(jsonFile, reportDir); err != nil {
				return err
			}
			bin, err := os.Executable()
			if err != nil {
				return fmt.Errorf("soak: finding this signet binary: %w", err)
			}
			if serveBinary != "" {
				bin = serveBinary
			}
			o.Binary = bin
			out := cmd.OutOrStdout()
			if jsonFile == "-" {
				out = cmd.ErrOrStderr()
			}
			bench.SoakTableHeader(out)
			o.Progress = func(s bench.SoakSample) { bench.PrintSoakSample(out, s) }
			rep, err := bench.RunSoak(cmd.Context(), o)
			if err != nil {
				return err
			}
			bench.PrintSoakSummary(out, rep)
			if jsonFile != "" {
				if err := bench.WriteJSON(cmd.OutOrStdout(), jsonFile, rep); err != nil {
					return err
				}
			}
			if reportDir != "" {
				if err := bench.WriteSoakReport(reportDir, rep, commandLine()); err != nil {
					return err
				}
			}
			if n := rep.Errors.Total(); n > 0 {
				return fmt.Errorf("soak: %d errors (all must be 0)", n)
			}
			if failOnGrowth && rep.Grew() {
				return fmt.Errorf("soak: the broker's memory or goroutines grew after the warm-up")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Duration, "duration", 0, "how long the load runs (e.g. 30m)")
	f.IntVar(&o.Devices, "devices", 20, "honest devices")
	f.Float64Var(&o.Rate, "rate", 20, "messages per second of each honest device")
	f.Float64Var(&o.AttackRate, "attack-rate", 20, "hostile messages per second")
	f.DurationVar(&o.Sample, "sample", 0, "time between two samples (default 2s)")
	f.DurationVar(&o.Warmup, "warmup", 0, "left out of the growth verdict (default a fifth of --duration)")
	f.BoolVar(&failOnGrowth, "fail-on-growth", false, "exit 1 when memory or goroutines grew after the warm-up")
	f.StringVar(&serveBinary, "serve-binary", "", "run this signet binary as the broker (default: this one)")
	f.StringVar(&jsonFile, "json", "", "write the report as JSON to this file (- for stdout)")
	f.StringVar(&reportDir, "report", "", "write soak.md and the plots into this directory")
	return cmd
}
