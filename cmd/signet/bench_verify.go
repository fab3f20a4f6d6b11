package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/bench"
)

func newBenchVerifyCmd() *cobra.Command {
	var o bench.VerifyOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--devices 1000] [--messages 20] [--reps 3] [--json]",
		Short: "Ed25519 verification: crypto/ed25519 vs ed25519consensus vs Signet, on one city stream",
		Long: `Sign a city stream (--devices keys × --messages each, interleaved) once, then
verify it with crypto/ed25519.Verify, ed25519consensus batches and Signet's
edbatch batches on one core, and through signing.Verifier with 256 concurrent
callers (as connections) against the same callers verifying directly, clean
and with 1% bad signatures from one key. Figures are medians of --reps runs,
in ns per signature; the ratios come from the same run.`,
		Example: "  signet bench verify\n  signet bench verify --json > verify.json",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Devices < 0 || o.Messages < 0 || o.Reps < 0 {
				return usagef("--devices, --messages and --reps must be positive")
			}
			o.Progress = func(step string) { fmt.Fprintf(cmd.ErrOrStderr(), "\rbench verify: %-50s", step) }
			rep, err := bench.VerifyFigures(cmd.Context(), o)
			fmt.Fprintln(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "verifier\tns/sig\tratio\n")
			fmt.Fprintf(w, "crypto/ed25519 (1 core)\t%.0f\t1.00\n", rep.StdNsPerSig)
			fmt.Fprintf(w, "ed25519consensus batch (1 core)\t%.0f\t%.2f\n", rep.ConsensusNsPerSig, rep.ConsensusNsPerSig/rep.StdNsPerSig)
			fmt.Fprintf(w, "signet edbatch (1 core)\t%.0f\t%.2f\n", rep.SignetNsPerSig, rep.RatioVsStd)
			fmt.Fprintf(w, "direct, 256 callers (all cores)\t%.0f\t1.00\n", rep.DirectNsPerSig)
			fmt.Fprintf(w, "signing.Verifier, 256 callers\t%.0f\t%.2f\n", rep.VerifierNsPerSig, rep.VerifierRatioVsStd)
			fmt.Fprintf(w, "signing.Verifier, 1%% poisoned\t%.0f\thonest throughput %.2fx clean\n", rep.PoisonedNsPerSig, rep.PoisonedRatio)
			return w.Flush()
		},
	}
	cmd.Flags().IntVar(&o.Devices, "devices", 1000, "distinct device keys")
	cmd.Flags().IntVar(&o.Messages, "messages", 20, "messages per device")
	cmd.Flags().IntVar(&o.Batch, "batch", 64, "batch size")
	cmd.Flags().IntVar(&o.Reps, "reps", 3, "repetitions (medians are reported)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}
