package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/bench"
	"github.com/signet-city/signet/devices"
)

func newBenchAllCmd() *cobra.Command {
	var f brokerFlags
	var quick bool
	var jsonFile, reportDir string
	cmd := &cobra.Command{
		Use:   "all [--quick] [--json FILE] [--report DIR]",
		Short: "Run the broker, verify and store benchmarks, with one JSON file and one report",
		Long: `Run "bench verify", "bench store" and "bench broker" one after the other and
gather their figures: a terminal table for the broker, --json FILE with every
figure, --report DIR with report.md and the plots.

--quick is a smoke test that finishes in well under a minute (50 devices,
0.5 s runs, small verify and store runs): it shows that every part works, not how
fast; CI runs it. The broker flags apply to the broker part.`,
		Example: `  signet bench all --json bench.json --report report/
  signet bench all --quick --json out.json --report rep`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if quick {
				// Smoke sizes, unless set on the command line.
				set := func(name string, apply func()) {
					if !cmd.Flags().Changed(name) {
						apply()
					}
				}
				set("devices", func() { f.devices = 50 })
				set("messages", func() { f.messages = 1500 }) // 0.7 s at about 100k msg/s
				set("seconds", func() { f.seconds = 0.5 })
				set("warmup", func() { f.warmup = 0.2 })
				set("gateways", func() { f.gateways = 2 })
			}
			o, err := f.options()
			if err != nil {
				return err
			}
			if err := checkOutputs(jsonFile, reportDir); err != nil {
				return err
			}
			all := &bench.AllReport{Machine: bench.DescribeMachine(), Command: commandLine()}
			stderr := cmd.ErrOrStderr()

			vo := bench.VerifyOptions{}
			if quick {
				vo = bench.VerifyOptions{Devices: 100, Messages: 11, Reps: 1}
			}
			vo.Progress = func(step string) { fmt.Fprintf(stderr, "\rbench verify: %-50s", step) }
			v, err := bench.VerifyFigures(cmd.Context(), vo)
			fmt.Fprintln(stderr)
			if err != nil {
				return fmt.Errorf("bench verify: %w", err)
			}
			all.Verify = &v

			sc := bench.StoreConfig{Devices: []int{100, 10000}, Modes: []devices.Durability{devices.Strict, devices.Relaxed}, Duration: 3 * time.Second}
			if quick {
				sc = bench.StoreConfig{Devices: []int{20}, Modes: []devices.Durability{devices.Strict, devices.Relaxed}, Duration: 300 * time.Millisecond, Committers: 8}
			}
			fmt.Fprintln(stderr, "bench store: group commits")
			if all.Store, err = bench.MeasureStore(cmd.Context(), sc, nil); err != nil {
				return fmt.Errorf("bench store: %w", err)
			}

			return measureBrokers(cmd, o, all, jsonFile, reportDir)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&quick, "quick", false, "a short smoke run (CI): small sizes, 0.5 s per run")
	cmd.Flags().StringVar(&jsonFile, "json", "", "write every figure as JSON to this file (- for stdout)")
	cmd.Flags().StringVar(&reportDir, "report", "", "write report.md and PNG plots into this directory")
	return cmd
}
