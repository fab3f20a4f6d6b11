package main

import "github.com/spf13/cobra"

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Signet (store commits; more to come)",
		Long: `Benchmarks that a city runs to decide whether an edge box can carry a
district. Every figure is a ratio or rate measured in one run on this machine.`,
	}
	cmd.AddCommand(newBenchStoreCmd(), newBenchVerifyCmd())
	return cmd
}
