package bench

import (
	"context"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
)

func TestMeasureStore(t *testing.T) {
	var seen []StoreResult
	got, err := MeasureStore(context.Background(), StoreConfig{
		Devices:    []int{1, 20},
		Modes:      []devices.Durability{devices.Strict, devices.Relaxed},
		Duration:   100 * time.Millisecond,
		Committers: 8,
		Dir:        t.TempDir(),
	}, func(r StoreResult) { seen = append(seen, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || len(seen) != 4 {
		t.Fatalf("%d results, %d progress calls; want 4 and 4", len(got), len(seen))
	}
	for _, r := range got {
		if r.Commits == 0 || r.Transactions == 0 || r.Transactions > uint64(r.Commits) || r.P50Millis > r.P99Millis || r.CommitsPerSec <= 0 {
			t.Errorf("implausible result %+v", r)
		}
	}
	if got[0].Devices != 1 || got[0].Mode != "strict" || got[3].Devices != 20 || got[3].Mode != "relaxed" {
		t.Errorf("results out of order: %+v", got)
	}
}

func TestMeasureStoreRejectsBadConfig(t *testing.T) {
	for _, cfg := range []StoreConfig{
		{Devices: []int{1}, Modes: []devices.Durability{devices.Strict}},
		{Devices: []int{0}, Modes: []devices.Durability{devices.Strict}, Duration: time.Second},
	} {
		if _, err := MeasureStore(context.Background(), cfg, nil); err == nil {
			t.Errorf("MeasureStore(%+v) succeeded", cfg)
		}
	}
}

func TestPercentile(t *testing.T) {
	d := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0, 1}} {
		if got := percentile(d, tt.q); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing should be 0")
	}
}
