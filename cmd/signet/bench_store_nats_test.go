package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natsembed"
	"github.com/signet-city/signet/devices/storetest"
)

// TestBenchStoreOnNATSURL runs "bench store --store nats://..." twice
// against one embedded 3-node cluster that already holds a city device
// with a lease and a twin. Both runs must report figures for every device
// count and mode (the second would fail on the first one's devices if ids
// repeated), and afterwards the cluster must hold exactly what it held
// before: the city device, its lease, its twin and its published twin
// document, and nothing of the runs. Forget, which the runs use to leave
// no trace, must refuse the city device, whose key is active.
func TestBenchStoreOnNATSURL(t *testing.T) {
	ctx := context.Background()
	c, err := natsembed.Start(filepath.Join(t.TempDir(), "nats"), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	urls := c.URLs()

	s, err := natsstore.Open(ctx, natsstore.Options{Servers: urls, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := storetest.NewKey(t)
	city := devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{key}}
	if err := s.Write(ctx, devices.Batch{Devices: []devices.Device{city}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []devices.Change{{KID: key.KID, HighWater: 41, Device: "sl-1", Twin: []byte(`{"zone":"z1","version":1}`)}}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		cmd := newBenchStoreCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"--store", urls, "--devices", "1,10", "--seconds", "1"})
		if err := cmd.ExecuteContext(ctx); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out.String())
		}
		rows := 0
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Fields(line)
			if len(f) != 10 || (f[0] != "1" && f[0] != "10") {
				continue
			}
			rows++
			if perSec, err := strconv.ParseFloat(f[3], 64); err != nil || perSec <= 0 {
				t.Errorf("run %d: row %q: commits/s %q, want a positive figure", run, line, f[3])
			}
		}
		if rows != 4 {
			t.Fatalf("run %d: %d result rows, want 4 (1 and 10 devices, strict and relaxed):\n%s", run, rows, out.String())
		}
	}

	after, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Devices) != 1 || after.Devices[0].ID != "sl-1" || after.Devices[0].Keys[0].Status != devices.StatusActive {
		t.Errorf("%d devices after the runs, want only the city's sl-1, active", len(after.Devices))
	}
	if len(after.Windows) != len(before.Windows) || len(after.Windows) != 1 || after.Windows[0].HighWater != 41 {
		t.Errorf("%d leases after the runs, want only sl-1's, at 41 (before: %d)", len(after.Windows), len(before.Windows))
	}
	if len(after.Twins) != 1 || after.Twins[0].Device != "sl-1" {
		t.Errorf("%d twins after the runs, want only sl-1's", len(after.Twins))
	}
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, natsstore.TwinStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(natsstore.TwinSubjects))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.State.Subjects) != 1 || info.State.Subjects[natsstore.TwinSubject("z1", "sl-1")] != 1 {
		t.Errorf("%s after the runs holds %d subjects, want only sl-1's one document", natsstore.TwinStream, len(info.State.Subjects))
	}

	if err := s.Forget(ctx, []string{"sl-1"}); err == nil || !strings.Contains(err.Error(), "only a revoked device may be forgotten") {
		t.Errorf("Forget of an active device: %v, want a refusal", err)
	}
	if err := s.Forget(ctx, []string{"sl-1.>"}); err == nil {
		t.Error("Forget of a subject wildcard succeeded")
	}
	if d, err := s.Device(ctx, "sl-1"); err != nil || d.Keys[0].Status != devices.StatusActive {
		t.Errorf("sl-1 after the refused Forget: %+v, %v", d, err)
	}
	if w, err := s.Load(ctx); err != nil || len(w.Windows) != 1 || w.Windows[0].HighWater != 41 || len(w.Twins) != 1 {
		t.Errorf("sl-1's lease and twin after the refused Forget: %v", err)
	}
}
