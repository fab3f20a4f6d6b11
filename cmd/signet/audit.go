package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/signet-city/signet/broker/audit"
	"github.com/spf13/cobra"
)

// exitTornTail is the exit code of "audit verify" for a log whose only fault
// is a torn last line (a crash or full disk while writing), as opposed to
// 1 for a chain broken by an edit.
const exitTornTail = 3

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the hash-chained security audit log",
	}
	var all bool
	verify := &cobra.Command{
		Use:   "verify FILE [FILE.1 ...]",
		Short: "Check every line of an audit log and its chain, across rotated files",
		Long: `Check that every line of a Signet audit log (JSON lines) carries the right
hash of its own content and of the line before it. Any edited, inserted, removed
or reordered line is reported with its file and line number.

When the broker rotates its log, audit.jsonl becomes audit.jsonl.1 (older ones
move up) and the new file's first line chains to the old file's last line.
Name several files, in any order, to check each and the chain across them, or
use --all FILE to check FILE and every FILE.N beside it. A series may start
after files that were rotated away: the first line of a later file records
each removal.

On success it prints the number of lines and the head hash. Lines removed from
the end leave a shorter valid chain: compare the head hash with a copy kept
elsewhere (for example the last event seen on $security/events).

Exit codes:
  0  every file verifies and the files chain together
  1  the chain is broken: a line was edited, inserted, removed or reordered,
     or a file of the series is missing (the message names file and line)
  2  bad command line
  3  torn tail: the last line was cut while being written (a crash or a full
     disk); every line before it verifies. The broker moves such bytes to
     FILE.torn-<time> and records the cut when it next starts.`,
		Example: "  signet audit verify /var/lib/signet/audit.jsonl\n" +
			"  signet audit verify --all /var/lib/signet/audit.jsonl\n" +
			"  signet audit verify audit.jsonl audit.jsonl.1 audit.jsonl.2",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) != 1:
				return usagef("%s --all takes 1 argument (the live log), got %d", cmd.CommandPath(), len(args))
			case len(args) == 0:
				return usagef("%s takes at least 1 argument, got 0", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			files := args
			if all {
				var err error
				if files, err = audit.SeriesFiles(args[0]); err != nil {
					return fmt.Errorf("audit log %s: %w", args[0], err)
				}
			}
			return verifyAudit(cmd.OutOrStdout(), files)
		},
	}
	verify.Flags().BoolVar(&all, "all", false, "verify FILE and its rotated files FILE.1, FILE.2, ... as one chain")
	cmd.AddCommand(verify)
	return cmd
}

// verifyAudit verifies files as one series and prints what it found.
func verifyAudit(out io.Writer, files []string) error {
	total, per, err := audit.VerifyFiles(files)
	if err != nil {
		var fe *audit.FileError
		name := files[0]
		if errors.As(err, &fe) {
			name, err = fe.Path, fe.Err
		}
		var torn *audit.TornTailError
		if errors.As(err, &torn) {
			return exitError{exitTornTail, fmt.Errorf("audit log %s: %w", name, err)}
		}
		var ce *audit.ChainError
		if errors.As(err, &ce) {
			return fmt.Errorf("audit log %s: chain broken at %w", name, err)
		}
		return fmt.Errorf("audit log %s: %w", name, err)
	}
	head := hex.EncodeToString(total.Head[:])
	if len(per) > 1 {
		for _, f := range per {
			fmt.Fprintf(out, "  %s: %d lines, seq %d to %d\n", f.Path, f.Lines, f.FirstSeq, f.LastSeq)
		}
		fmt.Fprintf(out, "ok: %d files, %d lines (seq %d to %d), head %s\n", len(per), total.Lines, total.FirstSeq, total.LastSeq, head)
	} else {
		fmt.Fprintf(out, "ok: %d lines, head %s\n", total.Lines, head)
	}
	if total.Continues() {
		fmt.Fprintf(out, "the chain starts after seq %d (head %s), in files rotated away or not named\n", total.FirstSeq-1, hex.EncodeToString(total.Start[:]))
	}
	return nil
}
