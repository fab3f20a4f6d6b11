package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardConfig: the example file's dashboard section loads with the
// defaults' values, zero values take the defaults, and a bad value is one
// error naming its key.
func TestDashboardConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := DashboardConfig{
		MaxStreams: DefaultMaxStreams, MaxStreamsPerUser: DefaultMaxStreamsPerUser, StreamQueue: DefaultStreamQueue,
		Heartbeat: DefaultStreamHeartbeat, WriteTimeout: DefaultStreamWriteTimeout, RateSeconds: DefaultRateSeconds, EventsPageMax: DefaultEventsPageMax,
	}
	if c.Dashboard != want {
		t.Fatalf("example dashboard %+v, want the defaults %+v", c.Dashboard, want)
	}
	if d := (DashboardConfig{}).withDefaults(); d != want {
		t.Fatalf("defaults %+v", d)
	}
	for body, want := range map[string]string{
		"dashboard:\n  max_streams: -1\n":                           "dashboard.max_streams: must not be negative",
		"dashboard:\n  max_streams: 2\n  max_streams_per_user: 3\n": "dashboard.max_streams_per_user: 3 is more than max_streams (2)",
		"dashboard:\n  stream_heartbeat: 10ms\n":                    "dashboard.stream_heartbeat: 10ms is below 1s",
		"dashboard:\n  rate_seconds: 7200\n":                        "dashboard.rate_seconds: 7200 is more than an hour",
		"dashboard:\n  stream_write_timeout: soon\n":                "cannot unmarshal !!str `soon` into time.Duration",
		"dashboard:\n  colour: red\n":                               "field colour not found",
	} {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", body, err, want)
		}
	}
	if err := (DashboardConfig{WriteTimeout: -time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "stream_write_timeout") {
		t.Errorf("a negative write timeout: %v", err)
	}
}
