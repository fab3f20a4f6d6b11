package devices_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// storedWindow returns the stored record of kid's window.
func storedWindow(t *testing.T, s devices.Store, kid []byte) devices.Window {
	t.Helper()
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range snap.Windows {
		if string(w.KID) == string(kid) {
			return w
		}
	}
	t.Fatalf("no stored window for kid %s", signing.FormatKeyID(kid))
	return devices.Window{}
}

// storedTwin returns device's stored twin document (nil: none stored yet).
func storedTwin(t *testing.T, s devices.Store, device string) *twin.Document {
	t.Helper()
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tw := range snap.Twins {
		if tw.Device == device {
			d, err := twin.Parse(tw.Doc)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	return nil
}

// commitAll commits telemetry of kid with each counter, in order.
func commitAll(t *testing.T, e *devices.Edge, kid []byte, ctrs ...uint64) {
	t.Helper()
	for _, c := range ctrs {
		if _, err := e.Commit(context.Background(), devices.Update{KID: kid, Counter: c, Kind: devices.Telemetry}); err != nil {
			t.Fatalf("counter %d: %v", c, err)
		}
	}
}

// TestCommitStoresTheLeaseAlone: a strict Commit leaves the key's lease
// durable (1+B after the first counter) and nothing more of the window; a
// telemetry message's twin counters wait for the flush, a state change does
// not wait.
func TestCommitStoresTheLeaseAlone(t *testing.T) {
	f := newFixture(t, devices.Options{FlushInterval: 1 << 40}) // no flush tick in this test
	commitAll(t, f.edge, f.aq1.KID, 1, 2, 3)
	w := storedWindow(t, f.store, f.aq1.KID)
	if w.HighWater != 1+devices.DefaultLeaseBlock || len(w.State) != 0 {
		t.Errorf("stored window: bound %d, %d bytes of state; want bound %d and none", w.HighWater, len(w.State), 1+devices.DefaultLeaseBlock)
	}
	if d := storedTwin(t, f.store, "aq-1"); d != nil && d.Security.Accepted != 0 {
		t.Errorf("telemetry counters were written with the message: accepted %d, want none until the flush", d.Security.Accepted)
	}
	if _, err := f.edge.Commit(context.Background(), levelUpdate(f.sl1.KID, 1)); err != nil {
		t.Fatal(err)
	}
	if d := storedTwin(t, f.store, "sl-1"); d == nil || d.Reported["level"] != float64(1) {
		t.Errorf("stored twin after a strict state commit = %+v, want reported level 1", d)
	}
}

// TestCloseWritesWholeWindows: after a clean stop the window survives
// whole, so a late counter inside it is still accepted once, and the
// counters of telemetry are written.
func TestCloseWritesWholeWindows(t *testing.T) {
	f := newFixture(t, devices.Options{})
	commitAll(t, f.edge, f.aq1.KID, 1, 2, 3, 4, 6, 7, 8, 9, 10) // 5 is late
	f.reopen(t, devices.Options{})
	w := storedWindow(t, f.store, f.aq1.KID)
	var win replay.Window
	if len(w.State) == 0 || win.UnmarshalBinary(w.State) != nil || win.Highest() != 10 || w.HighWater != 1+devices.DefaultLeaseBlock {
		t.Errorf("after Close: bound %d, %d bytes of state; want the lease %d and the window at 10", w.HighWater, len(w.State), 1+devices.DefaultLeaseBlock)
	}
	if d := storedTwin(t, f.store, "aq-1"); d == nil || d.Security.Accepted != 9 || d.Security.LastCtr != 10 {
		t.Errorf("stored twin after Close = %+v, want accepted 9 and last_ctr 10", d)
	}
	commitAll(t, f.edge, f.aq1.KID, 5)
	for _, c := range []uint64{5, 3, 10} {
		err := f.edge.PreCheck(f.aq1.KID, c)
		if reasonOf(err) != signing.ReasonReplay {
			t.Errorf("counter %d after a clean restart: %v, want replay", c, err)
		}
	}
}

// TestCrashResumesFromTheMark: a copy of the store taken after strict
// commits, without Close, is what a crash leaves. The edge opened on it
// refuses every counter up to the lease bound, the late one and the unused
// rest of the lease included, and takes the next.
func TestCrashResumesFromTheMark(t *testing.T) {
	f := newFixture(t, devices.Options{})
	commitAll(t, f.edge, f.aq1.KID, 1, 2, 3, 4, 6, 7, 8, 9, 10)
	data, err := os.ReadFile(f.path) // every commit above was fsynced
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed.db")
	if err := os.WriteFile(crashed, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, crashed)
	e, err := devices.Open(context.Background(), s, devices.Options{Now: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	bound := uint64(1 + devices.DefaultLeaseBlock)
	for _, c := range []uint64{1, 5, 10, 11, bound} {
		if err := e.PreCheck(f.aq1.KID, c); reasonOf(err) != signing.ReasonReplay {
			t.Errorf("counter %d after a crash: %v, want replay", c, err)
		}
	}
	commitAll(t, e, f.aq1.KID, bound+1)
}

// TestCountersComeDue: a twin whose only change is its counters is written
// once it has been dirty for FlushInterval, with nothing else to commit, and
// watchers hear of it then.
func TestCountersComeDue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, devices.Options{FlushInterval: 20 * time.Millisecond})
	ch := f.edge.Watch(ctx)
	commitAll(t, f.edge, f.aq1.KID, 1, 2)
	f.edge.RecordRejection("aq-1", signing.ReasonBadSignature)
	// A flush may come between the two commits under load (the interval is
	// short): wait for the one that carries all three counters.
	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case c := <-ch:
			if c.Device != "aq-1" {
				t.Fatalf("a change of %s; only aq-1 was touched", c.Device)
			}
			done = c.Doc.Security.Accepted == 2 && c.Doc.Security.Rejected[string(signing.ReasonBadSignature)] == 1
		case <-deadline:
			t.Fatal("the dirty twin was not written with accepted 2 and bad_signature 1")
		}
	}
	if d := storedTwin(t, f.store, "aq-1"); d == nil || d.Security.Accepted != 2 {
		t.Errorf("stored twin after the flush = %+v, want accepted 2", d)
	}
}
