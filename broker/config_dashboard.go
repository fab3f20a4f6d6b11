package broker

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the dashboard section.
const (
	// DefaultMaxStreams bounds the live streams (GET /api/v1/stream) open
	// at once: each holds a connection, a goroutine and a queue.
	DefaultMaxStreams = 64
	// DefaultMaxStreamsPerUser bounds one user's streams, so that one
	// operator's forgotten tabs cannot take every slot.
	DefaultMaxStreamsPerUser = 4
	// DefaultStreamQueue is how many messages may wait for one stream's
	// writer; a reader that lets more pile up is dropped.
	DefaultStreamQueue = 256
	// DefaultStreamHeartbeat is how often an idle stream gets a comment
	// line, so proxies and NAT boxes keep it open.
	DefaultStreamHeartbeat = 15 * time.Second
	// DefaultStreamWriteTimeout bounds one write to a stream: a reader that
	// takes longer to take it is dropped.
	DefaultStreamWriteTimeout = 10 * time.Second
	// DefaultRateSeconds is how many seconds of accepted and rejected
	// counts the broker keeps for the dashboard's chart.
	DefaultRateSeconds = 300
	// DefaultEventsPageLimit and DefaultEventsPageMax are the default and
	// the largest limit of GET /api/v1/events?limit=N.
	DefaultEventsPageLimit = 50
	DefaultEventsPageMax   = 500
)

// DashboardConfig is the `dashboard:` section: the bounds of the live
// stream, the rate history and event paging. A zero field takes its default.
type DashboardConfig struct {
	MaxStreams        int           `yaml:"max_streams"`
	MaxStreamsPerUser int           `yaml:"max_streams_per_user"`
	StreamQueue       int           `yaml:"stream_queue"`
	Heartbeat         time.Duration `yaml:"stream_heartbeat"`
	WriteTimeout      time.Duration `yaml:"stream_write_timeout"`
	RateSeconds       int           `yaml:"rate_seconds"`
	EventsPageMax     int           `yaml:"events_page_max"`
}

// UnmarshalYAML reads the section and checks it, so that a bad value in a
// config file is one error naming the key.
func (c *DashboardConfig) UnmarshalYAML(n *yaml.Node) error {
	type plain DashboardConfig // without this method
	if err := checkKnownKeys[plain](n, "dashboard"); err != nil {
		return err
	}
	var p plain
	if err := n.Decode(&p); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	*c = DashboardConfig(p)
	return c.Validate()
}

// Validate names the first key of the section that is wrong.
func (c DashboardConfig) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max_streams", int64(c.MaxStreams)}, {"max_streams_per_user", int64(c.MaxStreamsPerUser)},
		{"stream_queue", int64(c.StreamQueue)}, {"stream_heartbeat", int64(c.Heartbeat)},
		{"stream_write_timeout", int64(c.WriteTimeout)}, {"rate_seconds", int64(c.RateSeconds)},
		{"events_page_max", int64(c.EventsPageMax)},
	} {
		if f.v < 0 {
			return fmt.Errorf("dashboard.%s: must not be negative (0: the default)", f.name)
		}
	}
	r := c.withDefaults()
	switch {
	case r.MaxStreamsPerUser > r.MaxStreams:
		return fmt.Errorf("dashboard.max_streams_per_user: %d is more than max_streams (%d)", r.MaxStreamsPerUser, r.MaxStreams)
	case r.Heartbeat < time.Second:
		return fmt.Errorf("dashboard.stream_heartbeat: %s is below 1s", r.Heartbeat)
	case r.RateSeconds > 3600:
		return fmt.Errorf("dashboard.rate_seconds: %d is more than an hour (3600)", r.RateSeconds)
	}
	return nil
}

// withDefaults fills the zero fields.
func (c DashboardConfig) withDefaults() DashboardConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxStreams, DefaultMaxStreams)
	def(&c.MaxStreamsPerUser, DefaultMaxStreamsPerUser)
	def(&c.StreamQueue, DefaultStreamQueue)
	def(&c.RateSeconds, DefaultRateSeconds)
	def(&c.EventsPageMax, DefaultEventsPageMax)
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultStreamHeartbeat
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultStreamWriteTimeout
	}
	return c
}
