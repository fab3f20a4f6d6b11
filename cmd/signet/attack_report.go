package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/signet-city/signet/bench"
)

// The files --report writes.
const (
	reportJSON  = "results.json"
	reportTable = "table.md"
	reportPlot  = "honest-delivery.png"
)

// scenarioColumns are the table's columns, terminal and markdown alike.
var scenarioColumns = []string{"scenario", "risk", "sent", "refused", "accepted", "events (stand for)", "event reasons", "honest sent", "honest delivered", "honest share", "floor", "peak RSS MiB", "verdict"}

// scenarioCells is one row of the table.
func scenarioCells(r scenarioRow) []string {
	events := "-"
	if r.Events >= 0 {
		events = fmt.Sprintf("%d (%d)", r.Events, r.EventsStandFor)
	}
	delivered := "-"
	if r.HonestDelivered >= 0 {
		delivered = fmt.Sprint(r.HonestDelivered)
	}
	rss := "-"
	if r.PeakRSSMiB > 0 {
		rss = fmt.Sprintf("%.0f", r.PeakRSSMiB)
	}
	verdict := "held"
	if !r.Pass {
		verdict = "FAILED"
	}
	reasons := make(map[string]int, len(r.EventReasons))
	for k, n := range r.EventReasons {
		reasons[k] = int(n)
	}
	why := summarise(reasons)
	if why == "" {
		why = "-"
	}
	return []string{r.Scenario, r.Risk, fmt.Sprint(r.Sent), fmt.Sprint(r.Refused), fmt.Sprint(r.Accepted), events, why,
		fmt.Sprint(r.HonestSent), delivered, fmt.Sprintf("%.2f%%", 100*r.HonestShare), fmt.Sprintf("%.1f%%", 100*r.Floor), rss, verdict}
}

// printScenarioTable prints the table for a terminal.
func printScenarioTable(out io.Writer, rows []scenarioRow) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(scenarioColumns, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(scenarioCells(r), "\t"))
	}
	tw.Flush()
}

// markdownTable is the table in GitHub markdown.
func markdownTable(rows []scenarioRow) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(scenarioColumns, " | ") + " |\n")
	b.WriteString(strings.Repeat("|---", len(scenarioColumns)) + "|\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(scenarioCells(r), " | ") + " |\n")
	}
	return b.String()
}

// writeScenarioReports writes --json and --report.
func writeScenarioReports(f scenarioFlags, rows []scenarioRow) error {
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if f.json != "" {
		if err := os.WriteFile(f.json, b, 0o644); err != nil {
			return err
		}
	}
	if f.report == "" {
		return nil
	}
	if err := os.MkdirAll(f.report, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.report, reportJSON), b, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.report, reportTable), []byte(markdownTable(rows)), 0o644); err != nil {
		return err
	}
	names := make([]string, len(rows))
	shares := make([]float64, len(rows))
	for i, r := range rows {
		names[i], shares[i] = r.Scenario, 100*r.HonestShare
	}
	return bench.HorizontalBarPlotPNG(filepath.Join(f.report, reportPlot), "Honest readings delivered during each attack", "% of honest readings delivered", names, shares)
}
