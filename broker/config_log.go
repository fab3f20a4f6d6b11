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
	return l.HandlerLevel(w, nil)
}

// HandlerLevel is Handler with its level held in lv (set to the
// configured level), so that a reload can change it with lv.Set while
// the handler runs; nil lv fixes the level.
func (l LogConfig) HandlerLevel(w io.Writer, lv *slog.LevelVar) (slog.Handler, error) {
	level, err := l.ParseLevel()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if lv != nil {
		lv.Set(level)
		opts.Level = lv
	}
	switch strings.ToLower(l.Format) {
	case "", "text":
		return slog.NewTextHandler(w, opts), nil
	case "json":
		return slog.NewJSONHandler(w, opts), nil
	}
	return nil, fmt.Errorf("log.format: %q: want text or json", l.Format)
}

// ParseLevel is the configured level, or an error naming log.level.
func (l LogConfig) ParseLevel() (slog.Level, error) {
	switch strings.ToLower(l.Level) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q: want debug, info, warn or error", l.Level)
}
