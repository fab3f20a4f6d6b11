package devices_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/signet-city/signet/devices"
)

// TestAddDevice enrols a device in the store of a running edge and loads it
// with AddDevice: its key is found at once, its twin sorts into its zone,
// its messages commit, and after a restart it is still there with its twin.
// An id or kid the edge already knows, or an invalid device, changes nothing.
func TestAddDevice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	reg := devices.NewRegistry(f.store, f.clk.now)
	key, _ := newKey(t)
	d := devices.Device{ID: "sl-15", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{key}}
	if _, ok := f.edge.KeyByKID(key.KID); ok {
		t.Fatal("kid known before enrolment")
	}
	if err := reg.Enroll(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := f.edge.AddDevice(d); err != nil {
		t.Fatal(err)
	}
	rec, ok := f.edge.KeyByKID(key.KID)
	if !ok || rec.Owner != "sl-15" || rec.Zone != "z1" || rec.Kind != "streetlight" || rec.Role != devices.RoleDevice {
		t.Fatalf("KeyByKID after AddDevice = %+v, %v", rec, ok)
	}
	var ids []string
	for _, doc := range f.edge.Twins("z1") {
		ids = append(ids, doc.Device)
	}
	if fmt.Sprint(ids) != "[sl-1 sl-15 sl-2]" {
		t.Fatalf("z1 twins %v, want [sl-1 sl-15 sl-2]", ids)
	}
	doc, err := f.edge.Commit(ctx, devices.Update{KID: key.KID, Counter: 1, Kind: devices.State, Patch: []byte(`{"on":true,"level":30}`), TS: f.clk.t})
	if err != nil || doc.Version != 1 || doc.Reported["level"] != 30.0 {
		t.Fatalf("commit of the new device: %+v, %v", doc, err)
	}
	if err := f.edge.PreCheck(key.KID, 1); reasonOf(err) != "replay" {
		t.Fatalf("PreCheck(1) after commit = %v, want replay", err)
	}

	other, _ := newKey(t)
	bad := []struct {
		name string
		d    devices.Device
		is   func(error) bool
	}{
		{"same id", devices.Device{ID: "sl-15", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{other}},
			func(err error) bool { return errors.Is(err, devices.ErrConflict) }},
		{"kid of another device", devices.Device{ID: "sl-16", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{f.sl1}},
			func(err error) bool {
				var dup *devices.DuplicateKIDError
				return errors.As(err, &dup) && dup.Owner.ID == "sl-1"
			}},
		{"kid of an operator", devices.Device{ID: "sl-17", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{other, f.op1}},
			func(err error) bool {
				var dup *devices.DuplicateKIDError
				return errors.As(err, &dup) && dup.Owner.ID == "op-1"
			}},
		{"unknown kind", devices.Device{ID: "tt-1", Zone: "z1", Kind: "toaster", Keys: []devices.Key{other}},
			func(err error) bool { return err != nil }},
	}
	for _, b := range bad {
		if err := f.edge.AddDevice(b.d); !b.is(err) {
			t.Errorf("%s: AddDevice = %v", b.name, err)
		}
		if _, ok := f.edge.KeyByKID(other.KID); ok {
			t.Fatalf("%s: a refused device's key was loaded", b.name)
		}
		if _, ok := f.edge.Twin(b.d.ID); ok && b.d.ID != "sl-15" {
			t.Fatalf("%s: a refused device's twin was loaded", b.name)
		}
	}

	f.reopen(t, devices.Options{})
	doc, ok = f.edge.Twin("sl-15")
	if !ok || doc.Version != 1 || doc.Reported["level"] != 30.0 {
		t.Fatalf("after restart: twin %+v, %v", doc, ok)
	}
	if err := f.edge.PreCheck(key.KID, 1); reasonOf(err) != "replay" {
		t.Fatalf("after restart: PreCheck(1) = %v, want replay", err)
	}
}

// TestAddDeviceConcurrent adds devices from many goroutines while Refresh
// reloads the registry and an existing device commits: every device ends up
// loaded (no writer replaced another's index), and no commit is lost. Run
// with -race.
func TestAddDeviceConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	reg := devices.NewRegistry(f.store, f.clk.now)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, 2*n+1)
	keys := make([]devices.Key, n)
	for i := range keys {
		keys[i], _ = newKey(t)
	}
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			d := devices.Device{ID: fmt.Sprintf("aq-n%02d", i), Zone: "z2", Kind: "air-quality", Keys: []devices.Key{keys[i]}}
			if err := reg.Enroll(ctx, d); err != nil {
				errs <- err
				return
			}
			if err := f.edge.AddDevice(d); err != nil && !errors.Is(err, devices.ErrConflict) {
				// A Refresh that ran after the enrolment may have loaded it first.
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			if err := f.edge.Refresh(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for c := uint64(1); c <= n; c++ {
			if _, err := f.edge.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: c, Kind: devices.Telemetry, TS: f.clk.t}); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, k := range keys {
		if rec, ok := f.edge.KeyByKID(k.KID); !ok || rec.Owner != fmt.Sprintf("aq-n%02d", i) {
			t.Errorf("device aq-n%02d not loaded: %+v", i, rec)
		}
	}
	if got := len(f.edge.Twins("z2")); got != n+1 {
		t.Errorf("z2 has %d twins, want %d", got, n+1)
	}
	if err := f.edge.PreCheck(f.sl1.KID, n); reasonOf(err) != "replay" {
		t.Errorf("sl-1's window lost a commit across the swaps: PreCheck(%d) = %v", n, err)
	}
}
