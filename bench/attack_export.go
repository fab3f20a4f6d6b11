package bench

import (
	"context"
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// ServeChild is a running "signet serve" child, for commands outside this
// package (signet attack --spawn) that need the broker in its own process:
// its own RSS, its own exit.
type ServeChild struct{ c *serveChild }

// StartServe starts binary as "signet serve --config config" and waits for
// its startup line; the config must listen on MQTT and HTTP.
func StartServe(ctx context.Context, binary, config string) (*ServeChild, error) {
	c, err := startServe(ctx, childSpec{Binary: binary, Config: config})
	if err != nil {
		return nil, err
	}
	return &ServeChild{c: c}, nil
}

// MQTT is the host:port of the child's MQTT listener.
func (s *ServeChild) MQTT() string { return s.c.mqtt }

// HTTP is the host:port of the child's HTTP API.
func (s *ServeChild) HTTP() string { return s.c.http }

// PID is the broker's process id, for /proc/PID/status.
func (s *ServeChild) PID() int { return s.c.pid() }

// Stop shuts the child down cleanly (SIGINT), killing it after 30 s.
func (s *ServeChild) Stop() error { return s.c.stop() }

// Exited is closed when the child has exited.
func (s *ServeChild) Exited() <-chan struct{} { return s.c.done }

// LastStderr is the end of what the child wrote on stderr, on one line.
func (s *ServeChild) LastStderr() string { return s.c.lastStderr() }

// HorizontalBarPlotPNG draws one horizontal bar per name (top to bottom in
// the order given) into a PNG at path, with the bench plots' colours: the
// attack suite has thirty-odd scenarios, too many for barPlot's columns.
func HorizontalBarPlotPNG(path, title, xlabel string, names []string, vals []float64) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	if len(vals) == 0 {
		vals, names = []float64{0}, []string{"(none)"}
	}
	// NominalY counts from the bottom: reverse, so the first is on top.
	rev := make(plotter.Values, len(vals))
	labels := make([]string, len(names))
	for i := range vals {
		rev[len(vals)-1-i], labels[len(names)-1-i] = vals[i], names[i]
	}
	bars, err := plotter.NewBarChart(rev, vg.Points(9))
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	bars.Horizontal = true
	bars.Color = plotutil.Color(0)
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(labels...)
	p.X.Min, p.X.Max = 0, 100
	if err := p.Save(7*vg.Inch, vg.Length(1.2+0.18*float64(len(vals)))*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}
