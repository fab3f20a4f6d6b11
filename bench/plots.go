package bench

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writePlots draws the broker comparison's three PNGs into dir.
func writePlots(dir string, r *BrokerReport) error {
	var names []string
	var rates, cpu, driver plotter.Values
	for _, c := range r.Configs {
		if c.Skipped != "" {
			continue
		}
		names = append(names, c.Name)
		rates = append(rates, c.MsgsPerSec)
		cpu = append(cpu, c.CPUMicrosPerMsg)
		driver = append(driver, c.DriverCPUMicrosPerMsg)
	}
	if err := barPlot(filepath.Join(dir, PlotThroughput), "Broker ingress, max rate (closed loop)", "messages / s", names, rates); err != nil {
		return err
	}
	if err := cpuPlot(filepath.Join(dir, PlotCPU), names, cpu, driver, r.Budget); err != nil {
		return err
	}
	return cdfPlot(filepath.Join(dir, PlotLatencyCDF), r)
}

func barPlot(path, title, ylabel string, names []string, vals plotter.Values) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	if len(vals) == 0 {
		vals = plotter.Values{0}
		names = []string{"(none)"}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalX(names...)
	p.Y.Min = 0
	if err := p.Save(vg.Length(max(5, len(names)))*1.6*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// cpuPlot draws each configuration's CPU per message at its maximum rate,
// the broker's with the driver's stacked on it, and across them strict's
// budget and floor (CPUBudget): strict's lower bar against those lines.
func cpuPlot(path string, names []string, broker, driver plotter.Values, budget *CPUBudget) error {
	p := plot.New()
	p.Title.Text = "CPU per message at the maximum rate"
	p.Y.Label.Text = "CPU µs / message"
	p.Legend.Top, p.Legend.Left = true, true
	if len(broker) == 0 {
		broker, driver, names = plotter.Values{0}, plotter.Values{0}, []string{"(none)"}
	}
	low, err := plotter.NewBarChart(broker, vg.Points(28))
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	high, err := plotter.NewBarChart(driver, vg.Points(28))
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	low.Color, high.Color = plotutil.Color(0), plotutil.Color(1)
	low.LineStyle.Width, high.LineStyle.Width = 0, 0
	high.StackOn(low)
	p.Add(low, high)
	p.Legend.Add("broker", low)
	p.Legend.Add("load driver (same cores)", high)
	if budget != nil {
		line := func(label string, us float64, style int) error {
			if us <= 0 {
				return nil
			}
			l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: us}, {X: float64(len(names)) - 0.5, Y: us}})
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			l.Color = plotutil.Color(2 + style)
			l.Dashes = plotutil.Dashes(1 + style)
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(label, l)
			return nil
		}
		if budget.ForPlain != nil {
			if err := line(fmt.Sprintf("strict broker budget for %.1fx plain", TargetVsPlain), *budget.ForPlain, 0); err != nil {
				return err
			}
		}
		if budget.ForNaive != nil {
			if err := line(fmt.Sprintf("strict broker budget for %.1fx naive", TargetVsNaive), *budget.ForNaive, 1); err != nil {
				return err
			}
		}
		if err := line("strict broker floor", budget.Floor, 2); err != nil {
			return err
		}
	}
	p.NominalX(names...)
	p.Y.Min = 0
	top := 0.0
	for i := range broker {
		top = max(top, broker[i]+driver[i])
	}
	p.Y.Max = max(p.Y.Max, 1.4*top) // room for the legend above the bars
	if err := p.Save(vg.Length(max(5, len(names)))*1.6*vg.Inch, 4.5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// cdfPlot draws each configuration's half-load latency CDF on a log scale.
func cdfPlot(path string, r *BrokerReport) error {
	p := plot.New()
	p.Title.Text = "Latency at half of each broker's max rate"
	p.X.Label.Text = "publish to PUBACK, ms (log)"
	if r.QoS == 0 {
		p.X.Label.Text = "publish to delivery, ms (log)"
	}
	p.Y.Label.Text = "fraction of messages"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = false
	p.Legend.Left = false
	i := 0
	for _, c := range r.Configs {
		if c.Skipped != "" || len(c.HalfCDF) == 0 {
			continue
		}
		pts := make(plotter.XYs, 0, len(c.HalfCDF))
		for _, pt := range c.HalfCDF {
			pts = append(pts, plotter.XY{X: max(pt.Millis, 0.001), Y: pt.Fraction})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", path, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i / 7)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(c.Name, line)
		i++
	}
	if i == 0 {
		// An empty log axis cannot be drawn: show an empty linear one.
		p.X.Scale = plot.LinearScale{}
		p.X.Tick.Marker = plot.DefaultTicks{}
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
