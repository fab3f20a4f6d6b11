package broker

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogConfig is how `signet serve` logs: slog records at Level and above, as
// text (key=value, the default) or JSON lines for a log collector.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info (default), warn or error
	Format string `yaml:"format"` // text (default) or json
}

// Handler returns the slog handler the configuration describes, writing to
// w, or an error naming the field that is wrong.
func (l LogConfig) Handler(w io.Writer) (slog.Handler, error) {
	var level slog.Level
	switch strings.ToLower(l.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("log.level: %q: want debug, info, warn or error", l.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.Format) {
	case "", "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("log.format: %q: want text or json", l.Format)
}
