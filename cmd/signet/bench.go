package main

import "github.com/spf13/cobra"

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Signet: broker ingress against plain brokers, the verifier, the store",
		Long: `Benchmarks that a city runs to decide whether an edge box can carry a
district. Every figure is a ratio or rate measured in one run on this machine.

  signet bench broker   Signet against plain mochi, a naive hook and mosquitto
  signet bench verify   Ed25519 verifiers on one city stream
  signet bench store    group commits of the embedded store
  signet bench all      all three, with one JSON file and one report`,
		Example: `  signet bench all --quick --json bench.json --report report/
  signet bench broker --json broker.json`,
	}
	cmd.AddCommand(newBenchStoreCmd(), newBenchVerifyCmd(), newBenchBrokerCmd(), newBenchAllCmd(), newBenchTargetCmd(),
		newBenchFaultsCmd(),
		newBenchSoakCmd())
	return cmd
}
