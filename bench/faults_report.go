package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotFaults is the fault report's plot: per round, the messages
// acknowledged before the kill and the replays accepted and updates lost
// after the restart (the last two must stay on zero).
const PlotFaults = "faults.png"

// FaultTableHeader is the header of the terminal table; PrintFaultRound
// prints one row under it.
func FaultTableHeader(w io.Writer) {
	fmt.Fprintf(w, "%5s  %7s  %6s  %6s  %7s  %9s  %8s  %10s  %10s  %14s\n",
		"round", "kill ms", "sent", "acked", "refused", "in flight", "replayed", "replays ok", "lost acked", "honest refused")
}

// PrintFaultRound prints one round of the table.
func PrintFaultRound(w io.Writer, r FaultRound) {
	fmt.Fprintf(w, "%5d  %7.0f  %6d  %6d  %7d  %9d  %8d  %10d  %10d  %14d\n",
		r.Round, r.KillAfterMS, r.Sent, r.Acked, r.Refused, r.Unacked, r.Replayed+r.LiveReplays,
		r.ReplaysAccepted+r.LiveReplaysAccepted, r.LostAcked, r.HonestRefused)
}

// PrintFaultSummary prints the disk faults and the verdict under the table.
func PrintFaultSummary(w io.Writer, r *FaultReport) {
	for _, d := range r.Disk {
		fmt.Fprintf(w, "\n%s (%s):\n", d.Name, d.How)
		if d.StartedUnderFault {
			if d.Enrolled+d.EnrolRefused > 0 {
				fmt.Fprintf(w, "  under the fault: %d devices enrolled over the API, then %d enrolments refused\n", d.Enrolled, d.EnrolRefused)
			}
			fmt.Fprintf(w, "  under the fault: sent %d, acked %d, refused with a PUBACK failure code %d, no PUBACK %d; sessions refused at CONNECT %d\n", d.Sent, d.Acked, d.Refused, d.Unacked, d.SessionsRefused)
		} else {
			fmt.Fprintf(w, "  under the fault: the broker refused to start: %s\n", oneLine(d.StartError, 240))
			if d.Sent > 0 {
				fmt.Fprintf(w, "  before the restart: sent %d, acked %d, refused %d, no PUBACK %d\n", d.Sent, d.Acked, d.Refused, d.Unacked)
			}
		}
		fmt.Fprintf(w, "  after it was lifted: started %v, lost acked %d, lost enrolled %d, acknowledged replays accepted %d of %d (refused ones taken late %d), honest refused %d of %d\n",
			d.Recovered, d.LostAcked, d.LostEnrolled, d.ReplaysAccepted, d.Replayed, d.LateAccepted, d.HonestRefused, d.HonestAfter)
	}
	fmt.Fprintf(w, "\ntotal: replays accepted %d (must be 0), acknowledged updates lost %d (must be 0), failed starts %d, honest refused after restarts %d, honest refused under load %d\n",
		r.ReplaysAccepted, r.LostAcked, r.FailedStarts, r.HonestRefused, r.HonestRefusedLoad)
}

// WriteFaultReport writes faults.md (the table) and the plot into dir.
func WriteFaultReport(dir string, r *FaultReport, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fault run\n\n`%s`\n\n%s, %d cores, %s, commit %s, %s\n\n```\n", command, r.Machine.CPU, r.Machine.Cores, r.Machine.GoVersion, r.Machine.Commit, r.Machine.Time.Format("2006-01-02 15:04 MST"))
	FaultTableHeader(&b)
	for _, round := range r.Rounds {
		PrintFaultRound(&b, round)
	}
	PrintFaultSummary(&b, r)
	fmt.Fprintf(&b, "```\n\n![rounds](%s)\n", PlotFaults)
	if err := os.WriteFile(filepath.Join(dir, "faults.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return faultPlot(filepath.Join(dir, PlotFaults), r)
}

func faultPlot(path string, r *FaultReport) error {
	p := plot.New()
	p.Title.Text = "kill -9 rounds"
	p.X.Label.Text = "round"
	p.Y.Label.Text = "messages"
	p.Legend.Top, p.Legend.Left = true, true
	series := []struct {
		name string
		of   func(FaultRound) uint64
	}{
		{"acknowledged before the kill", func(f FaultRound) uint64 { return f.Acked }},
		{"replays accepted (must be 0)", func(f FaultRound) uint64 { return f.ReplaysAccepted + f.LiveReplaysAccepted }},
		{"acknowledged updates lost (must be 0)", func(f FaultRound) uint64 { return f.LostAcked }},
		{"honest refused after the restart", func(f FaultRound) uint64 { return f.HonestRefused }},
	}
	top := 1.0
	for i, s := range series {
		pts := make(plotter.XYs, len(r.Rounds))
		for j, round := range r.Rounds {
			pts[j] = plotter.XY{X: float64(round.Round), Y: float64(s.of(round))}
			top = max(top, pts[j].Y)
		}
		line, marks, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		line.Color, marks.Color = plotutil.Color(i), plotutil.Color(i)
		marks.Shape = plotutil.Shape(i)
		p.Add(line, marks)
		p.Legend.Add(s.name, line, marks)
	}
	p.Y.Min, p.Y.Max = 0, top*1.4 // room for the legend above the lines
	if err := p.Save(8*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// oneLine shortens s to n bytes on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}
