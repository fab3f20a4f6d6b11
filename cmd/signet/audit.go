package main

import (
	"encoding/hex"
	"fmt"
	"os"

	"github.com/signet-city/signet/broker/audit"
	"github.com/spf13/cobra"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the hash-chained security audit log",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify FILE",
		Short: "Check every line of an audit log and its chain",
		Long: `Check that every line of a Signet audit log (JSON lines) carries the right
hash of its own content and of the line before it. Any edited, inserted, removed
or reordered line is reported with its line number, and the exit code is 1.

On success it prints the number of lines and the head hash. Lines removed from
the end leave a shorter valid chain: compare the head hash with a copy kept
elsewhere (for example the last event seen on $security/events).`,
		Example: "  signet audit verify /var/lib/signet/audit.jsonl",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("audit log %s: %w", args[0], err)
			}
			defer f.Close()
			sum, err := audit.Verify(f)
			if err != nil {
				return fmt.Errorf("audit log %s: chain broken at %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d lines, head %s\n", sum.Lines, hex.EncodeToString(sum.Head[:]))
			return nil
		},
	})
	return cmd
}
