package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/signet-city/signet/firmware-sim/attack"
)

// probeTally is what a run of probes found.
type probeTally struct {
	ran, refused, skipped int
	accepted              []string // probes the broker let through
}

// runProbes runs each probe against target once and prints one row per
// probe. With all, a probe whose target part is missing (attack.ErrNoTarget)
// is skipped with a note; named explicitly, it is an error.
func runProbes(ctx context.Context, out io.Writer, probes []attack.Probe, target attack.Target, all bool) (probeTally, error) {
	var t probeTally
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "probe\tsent\tverdict\treason\tdetail")
	defer tw.Flush()
	for _, p := range probes {
		o, err := p.Run(ctx, target)
		switch {
		case errors.Is(err, attack.ErrNoTarget) && all:
			t.skipped++
			fmt.Fprintf(tw, "%s\t-\tskipped\t-\t%v\n", p.Name, err)
			continue
		case err != nil:
			tw.Flush()
			return t, fmt.Errorf("probe %s: %w", p.Name, err)
		}
		t.ran++
		verdict := "refused"
		if o.Refused {
			t.refused++
		} else {
			verdict = "ACCEPTED"
			t.accepted = append(t.accepted, p.Name)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", p.Name, o.Sent, verdict, o.Reason, o.Detail)
		if ctx.Err() != nil {
			break
		}
	}
	return t, nil
}

// probeHelp lists the probes for --help, one line each.
func probeHelp() string {
	var b strings.Builder
	for _, p := range attack.Probes() {
		fmt.Fprintf(&b, "  %-24s %s\n", p.Name, p.Doc)
	}
	if b.Len() == 0 {
		return "  (none built in)"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
