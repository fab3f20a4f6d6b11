package bench

import (
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The soak report's plots.
const (
	PlotSoakMemory     = "soak_memory.png"     // RSS and Go heap in use over time
	PlotSoakGoroutines = "soak_goroutines.png" // goroutines over time
)

// SoakTableHeader prints the header of the sample table.
func SoakTableHeader(w io.Writer) {
	fmt.Fprintf(w, "%8s  %9s  %10s  %10s  %12s\n", "t (s)", "RSS MiB", "heap MiB", "goroutines", "honest acked")
}

// PrintSoakSample prints one sample row.
func PrintSoakSample(w io.Writer, s SoakSample) {
	fmt.Fprintf(w, "%8.0f  %9.1f  %10.1f  %10d  %12d\n", s.AtSeconds, mib(s.RSSBytes), mib(s.HeapInuse), s.Goroutines, s.Acked)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// PrintSoakSummary prints the totals, the errors and the growth verdicts.
func PrintSoakSummary(w io.Writer, r *SoakReport) {
	e := r.Errors
	fmt.Fprintf(w, "\n%.0f s, %d honest devices: %d honest messages accepted; hostile %d sent, %d refused\n",
		r.Seconds, r.Devices, r.HonestAcked, r.HostileSent, r.HostileRefused)
	fmt.Fprintf(w, "errors: %d (honest refused %d, honest without PUBACK %d, honest sessions failed %d, hostile accepted %d, hostile without PUBACK %d, attacker sessions failed %d, samples failed %d, broker exited %v)\n",
		e.Total(), e.HonestRefused, e.HonestLost, e.HonestSessions, e.HostileAccepted, e.HostileLost, e.Attacker, e.Samples, e.BrokerExited)
	if r.RSS == nil {
		fmt.Fprintf(w, "growth: too few samples after the %.0f s warm-up to judge (need 6)\n", r.WarmupSeconds)
		return
	}
	verdict := func(name string, g *Growth, scale float64, unit string) {
		word := "no growth"
		if g.Grew {
			word = "GREW"
		}
		fmt.Fprintf(w, "%-10s first third median %.1f%s, last third %.1f%s, bound %.1f%s: %s\n", name, g.First/scale, unit, g.Last/scale, unit, g.Bound/scale, unit, word)
	}
	fmt.Fprintf(w, "after the %.0f s warm-up (bound: last third's median <= 1.10 x the first third's + 4 MiB, or + 10 goroutines):\n", r.WarmupSeconds)
	verdict("RSS", r.RSS, 1<<20, " MiB")
	verdict("heap", r.Heap, 1<<20, " MiB")
	verdict("goroutines", r.Goroutines, 1, "")
}

// WriteSoakReport writes soak.md and the two plots into dir.
func WriteSoakReport(dir string, r *SoakReport, command string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak\n\n`%s`\n\n%s, %d cores, %s, commit %s, %s\n\n```\n", command, r.Machine.CPU, r.Machine.Cores, r.Machine.GoVersion, r.Machine.Commit, r.Machine.Time.Format("2006-01-02 15:04 MST"))
	PrintSoakSummary(&b, r)
	fmt.Fprintf(&b, "```\n\n![memory](%s)\n\n![goroutines](%s)\n", PlotSoakMemory, PlotSoakGoroutines)
	if err := os.WriteFile(filepath.Join(dir, "soak.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := soakPlot(filepath.Join(dir, PlotSoakMemory), "Broker memory", "MiB", r, []soakSeries{
		{"RSS (VmRSS)", func(s SoakSample) float64 { return mib(s.RSSBytes) }},
		{"Go heap in use", func(s SoakSample) float64 { return mib(s.HeapInuse) }},
	}); err != nil {
		return err
	}
	return soakPlot(filepath.Join(dir, PlotSoakGoroutines), "Broker goroutines", "goroutines", r, []soakSeries{
		{"goroutines", func(s SoakSample) float64 { return float64(s.Goroutines) }},
	})
}

type soakSeries struct {
	name string
	of   func(SoakSample) float64
}

// soakPlot draws series over time, with a grey line where the warm-up ends.
func soakPlot(path, title, ylabel string, r *SoakReport, series []soakSeries) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = ylabel
	p.Legend.Top, p.Legend.Left = true, true
	top := 0.0
	for i, s := range series {
		pts := make(plotter.XYs, len(r.Samples))
		for j, sm := range r.Samples {
			pts[j] = plotter.XY{X: sm.AtSeconds, Y: s.of(sm)}
			top = max(top, pts[j].Y)
		}
		if len(pts) == 0 {
			pts = plotter.XYs{{}}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		line.Color = plotutil.Color(i)
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	warm, err := plotter.NewLine(plotter.XYs{{X: r.WarmupSeconds, Y: 0}, {X: r.WarmupSeconds, Y: top}})
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	warm.Color = color.Gray{Y: 160}
	warm.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(warm)
	p.Legend.Add("end of warm-up", warm)
	p.Y.Min = 0
	if err := p.Save(8*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
