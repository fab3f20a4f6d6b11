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
		Use:   "verify [--devices 1000] [--messages 20] [--batch 1024] [--reps 5] [--json]",
		Short: "Ed25519 verification: crypto/ed25519 vs ed25519consensus vs Signet, on one city stream",
		Long: `Sign a city stream once (--devices keys × --messages each, in mixed order), then
verify it on one core with crypto/ed25519.Verify, with ed25519consensus batches
and with Signet's batch verifier (signing/edbatch) in batches of --batch and of
each --sweep size; and on all cores through signing.Verifier from --callers
concurrent callers (as MQTT connections), against the same callers verifying
directly, clean and with 1% bad signatures from one key.

The verifiers run in turn, --reps times; figures are medians of CPU time
per signature (the thread's for one core, the process's for all cores, so
that other processes on the machine do not count), and each ratio is the median of ratios taken back to back, so that
load from other processes cancels out as far as it can. Targets
(DESIGN.md): Signet ≤ 0.25x crypto/ed25519 and below ed25519consensus on the
same batches; honest throughput with 1% poison ≥ 0.8x clean.`,
		Example: "  signet bench verify\n  signet bench verify --batch 256 --sweep 64,4096\n  signet bench verify --json > verify.json",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Devices < 0 || o.Messages < 0 || o.Reps < 0 || o.Batch < 0 || o.Callers < 0 {
				return usagef("--devices, --messages, --batch, --callers and --reps must be positive")
			}
			for _, s := range o.Sweep {
				if s <= 0 {
					return usagef("--sweep sizes must be positive, got %d", s)
				}
			}
			if o.Sweep == nil {
				o.Sweep = []int{}
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
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "city stream: %d devices, %d signatures in mixed order; medians of the repetitions\n\n", rep.Devices, rep.Signatures)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "one core\tns/sig\tvs crypto/ed25519\n")
			fmt.Fprintf(w, "crypto/ed25519.Verify\t%.0f\t1.00\n", rep.StdNsPerSig)
			for _, p := range rep.Sweep {
				fmt.Fprintf(w, "ed25519consensus, batches of %d\t%.0f\t%.2f\n", p.Batch, p.ConsensusNsPerSig, p.ConsensusNsPerSig/rep.StdNsPerSig)
				fmt.Fprintf(w, "signet edbatch, batches of %d\t%.0f\t%.2f\n", p.Batch, p.SignetNsPerSig, p.RatioVsStd)
			}
			w.Flush()
			fmt.Fprintf(out, "\nheadline (batches of %d): signet %.2fx crypto/ed25519 (target ≤ 0.25), %.2fx ed25519consensus (target < 1)\n\n",
				rep.Batch, rep.RatioVsStd, rep.RatioVsConsensus)
			w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(w, "all cores, concurrent callers\tCPU ns/sig\tratio\n")
			fmt.Fprintf(w, "direct verification\t%.0f\t1.00\n", rep.DirectNsPerSig)
			fmt.Fprintf(w, "signing.Verifier (mean batch %.0f)\t%.0f\t%.2f\n", rep.VerifierMeanBatch, rep.VerifierNsPerSig, rep.VerifierRatioVsDirect)
			fmt.Fprintf(w, "signing.Verifier, 1%% poisoned\t%.0f\thonest throughput %.2fx clean (target ≥ 0.9)\n", rep.PoisonedNsPerSig, rep.PoisonedRatio)
			if err := w.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(out, "\nsigning.Verifier costs %.2fx one core's edbatch at its mean batch of %.0f (target ≤ 1.25)\n", rep.VerifierRatioVsBatchCost, rep.VerifierMeanBatch)
			return err
		},
	}
	cmd.Flags().IntVar(&o.Devices, "devices", 1000, "distinct device keys")
	cmd.Flags().IntVar(&o.Messages, "messages", 20, "messages per device")
	cmd.Flags().IntVar(&o.Batch, "batch", 1024, "batch size of the headline figures")
	cmd.Flags().IntSliceVar(&o.Sweep, "sweep", []int{64, 256, 4096}, "further batch sizes to measure")
	cmd.Flags().IntVar(&o.Callers, "callers", 256, "concurrent callers for the Verifier figures")
	cmd.Flags().IntVar(&o.Reps, "reps", 5, "repetitions (medians are reported)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}
