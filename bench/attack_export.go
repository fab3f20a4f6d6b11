package bench

import (
	"context"

	"gonum.org/v1/plot/plotter"
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

// BarPlotPNG draws one bar per name into a PNG at path, with the same look
// as the bench reports' bar plots.
func BarPlotPNG(path, title, ylabel string, names []string, vals []float64) error {
	return barPlot(path, title, ylabel, names, plotter.Values(vals))
}
