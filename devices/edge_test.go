package devices_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/signing"
)

func windowAt(t testing.TB, hw uint64) []byte {
	t.Helper()
	w := replay.Resume(hw)
	b, err := w.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is an Edge over a real bbolt store with two streetlights in z1, an
// air-quality sensor in z2 and one operator.
type fixture struct {
	path               string
	store              devices.Store
	edge               *devices.Edge
	sl1, sl2, aq1, op1 devices.Key
	clk                *clock
}

func newFixture(t *testing.T, opt devices.Options) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "edge.db"), clk: &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
	f.sl1, _ = newKey(t)
	f.sl2, _ = newKey(t)
	f.aq1, _ = newKey(t)
	f.op1, _ = newKey(t)
	s := openStore(t, f.path)
	reg := devices.NewRegistry(s, f.clk.now)
	ctx := context.Background()
	for _, d := range []devices.Device{
		{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{f.sl1}},
		{ID: "sl-2", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{f.sl2}},
		{ID: "aq-1", Zone: "z2", Kind: "air-quality", Keys: []devices.Key{f.aq1}},
	} {
		if err := reg.Enroll(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.EnrollOperator(ctx, devices.Operator{ID: "op-1", Keys: []devices.Key{f.op1}, Scope: devices.Scope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	f.store = s
	f.open(t, opt)
	return f
}

func (f *fixture) open(t *testing.T, opt devices.Options) {
	t.Helper()
	opt.Now = f.clk.now
	e, err := devices.Open(context.Background(), f.store, opt)
	if err != nil {
		t.Fatal(err)
	}
	f.edge = e
	t.Cleanup(func() { e.Close(context.Background()) })
}

// reopen closes the edge and the store and opens both again, as after a
// restart.
func (f *fixture) reopen(t *testing.T, opt devices.Options) {
	t.Helper()
	if err := f.edge.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.store.Close()
	f.store = openStore(t, f.path)
	f.open(t, opt)
}

func reasonOf(err error) signing.Reason {
	if err == nil {
		return ""
	}
	return signing.ReasonOf(err)
}

func TestCommitRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	ts := f.clk.t
	steps := []struct {
		name string
		u    devices.Update
		want signing.Reason // "" = accepted
	}{
		{"first state", devices.Update{KID: f.sl1.KID, Counter: 1, Kind: devices.State, Patch: []byte(`{"on":true,"level":80}`), TS: ts}, ""},
		{"same counter again", devices.Update{KID: f.sl1.KID, Counter: 1, Kind: devices.Telemetry, TS: ts}, signing.ReasonReplay},
		{"far ahead", devices.Update{KID: f.sl1.KID, Counter: 5000, Kind: devices.Telemetry, TS: ts}, ""},
		{"out of order inside the window", devices.Update{KID: f.sl1.KID, Counter: 4000, Kind: devices.Event, TS: ts}, ""},
		{"older than the window", devices.Update{KID: f.sl1.KID, Counter: 2, Kind: devices.Telemetry, TS: ts}, signing.ReasonReplay},
		{"invalid state", devices.Update{KID: f.sl1.KID, Counter: 5001, Kind: devices.State, Patch: []byte(`{"level":900}`), TS: ts}, signing.ReasonInvalidState},
		{"counter of the invalid state is still free", devices.Update{KID: f.sl1.KID, Counter: 5001, Kind: devices.Telemetry, TS: ts}, ""},
		{"unknown kid", devices.Update{KID: []byte{1, 2, 3}, Counter: 1, Kind: devices.Telemetry, TS: ts}, signing.ReasonUnknownKID},
		{"device names another device", devices.Update{KID: f.sl2.KID, Counter: 1, Kind: devices.State, Device: "sl-1", Patch: []byte(`{"on":false}`), TS: ts}, signing.ReasonImpersonation},
		{"device sets desired", devices.Update{KID: f.sl2.KID, Counter: 1, Kind: devices.Desired, Device: "sl-2", Patch: []byte(`{"on":false}`), TS: ts}, signing.ReasonUnauthorizedCommand},
		{"operator sends state", devices.Update{KID: f.op1.KID, Counter: 1, Kind: devices.State, Device: "sl-1", Patch: []byte(`{"on":false}`), TS: ts}, signing.ReasonImpersonation},
		{"operator sets desired", devices.Update{KID: f.op1.KID, Counter: 1, Kind: devices.Desired, Device: "sl-1", Patch: []byte(`{"level":40}`), TS: ts}, ""},
	}
	for _, st := range steps {
		_, err := f.edge.Commit(ctx, st.u)
		if got := reasonOf(err); got != st.want {
			t.Errorf("%s: reason %q (err %v), want %q", st.name, got, err, st.want)
		}
	}
	doc, ok := f.edge.Twin("sl-1")
	if !ok {
		t.Fatal("no twin for sl-1")
	}
	if doc.Reported["level"] != 80.0 || doc.Desired["level"] != 40.0 {
		t.Errorf("twin reported %v desired %v; want level 80 reported, 40 desired", doc.Reported, doc.Desired)
	}
	if err := f.edge.PreCheck(f.sl1.KID, 5001); reasonOf(err) != signing.ReasonReplay {
		t.Errorf("PreCheck(5001) = %v, want replay", err)
	}
	if err := f.edge.PreCheck(f.sl1.KID, 5002); err != nil {
		t.Errorf("PreCheck(5002) = %v, want nil", err)
	}
}

func TestCommitRefusesRevokedAndExpiredKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	reg := devices.NewRegistry(f.store, f.clk.now)
	newer, _ := newKey(t)
	if _, err := reg.Rotate(ctx, "sl-1", newer, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.RevokeKey(ctx, f.aq1.KID); err != nil {
		t.Fatal(err)
	}
	if err := f.edge.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	commit := func(k devices.Key, ctr uint64) signing.Reason {
		_, err := f.edge.Commit(ctx, devices.Update{KID: k.KID, Counter: ctr, Kind: devices.Telemetry, TS: f.clk.t})
		return reasonOf(err)
	}
	if r := commit(f.sl1, 1); r != "" {
		t.Errorf("old key inside its grace period: %q, want accepted", r)
	}
	if r := commit(newer, 1); r != "" {
		t.Errorf("new key: %q, want accepted", r)
	}
	if r := commit(f.aq1, 1); r != signing.ReasonRevoked {
		t.Errorf("revoked key: %q, want revoked", r)
	}
	f.clk.t = f.clk.t.Add(time.Hour)
	if r := commit(f.sl1, 2); r != signing.ReasonRevoked {
		t.Errorf("old key after its grace period: %q, want revoked", r)
	}
	// Refresh kept the window of the surviving key in memory.
	if r := commit(newer, 1); r != signing.ReasonReplay {
		t.Errorf("new key, counter again after refresh: %q, want replay", r)
	}
}

// TestCommitExactlyOnce races many goroutines on the same counters: each
// counter must be accepted exactly once (SPEC §4 step 11).
func TestCommitExactlyOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	const goroutines, counters = 8, 50
	var mu sync.Mutex
	accepted := map[uint64]int{}
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := uint64(1); c <= counters; c++ {
				_, err := f.edge.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: c, Kind: devices.Telemetry})
				if err == nil {
					mu.Lock()
					accepted[c]++
					mu.Unlock()
				} else if reasonOf(err) != signing.ReasonReplay {
					t.Errorf("counter %d: %v", c, err)
				}
			}
		}()
	}
	wg.Wait()
	for c := uint64(1); c <= counters; c++ {
		if accepted[c] != 1 {
			t.Errorf("counter %d accepted %d times, want once", c, accepted[c])
		}
	}
	doc, _ := f.edge.Twin("sl-1")
	if doc.Security.Accepted != counters {
		t.Errorf("twin counts %d accepted, want %d", doc.Security.Accepted, counters)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	for _, mode := range []devices.Durability{devices.Strict, devices.Relaxed} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, devices.Options{Durability: mode})
			for c := uint64(1); c <= 20; c++ {
				patch := fmt.Sprintf(`{"level":%d}`, c)
				if _, err := f.edge.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: c, Kind: devices.State, Patch: []byte(patch)}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.edge.Commit(ctx, devices.Update{KID: f.sl2.KID, Counter: 1, Kind: devices.State, Patch: []byte(`{"level":101}`)}); reasonOf(err) != signing.ReasonInvalidState {
				t.Fatalf("invalid state: %v", err)
			}
			f.edge.RecordRejection("sl-2", signing.ReasonInvalidState)
			f.edge.RecordRejection("sl-2", signing.ReasonBadSignature)
			f.reopen(t, devices.Options{Durability: mode})

			for c := uint64(1); c <= 20; c++ {
				if err := f.edge.PreCheck(f.sl1.KID, c); reasonOf(err) != signing.ReasonReplay {
					t.Fatalf("after restart, PreCheck(%d) = %v, want replay", c, err)
				}
			}
			doc, _ := f.edge.Twin("sl-1")
			if doc.Reported["level"] != 20.0 || doc.Security.LastCtr != 20 {
				t.Errorf("twin after restart: reported %v, last_ctr %d", doc.Reported, doc.Security.LastCtr)
			}
			doc2, _ := f.edge.Twin("sl-2")
			if doc2.Security.Rejected[string(signing.ReasonInvalidState)] != 1 || doc2.Security.Rejected[string(signing.ReasonBadSignature)] != 1 {
				t.Errorf("rejection counters after restart: %v, want invalid_state 1 and bad_signature 1", doc2.Security.Rejected)
			}
		})
	}
}

func TestTwinsByZone(t *testing.T) {
	f := newFixture(t, devices.Options{})
	var got []string
	for _, d := range f.edge.Twins("z1") {
		got = append(got, d.Device)
	}
	if fmt.Sprint(got) != "[sl-1 sl-2]" {
		t.Errorf("Twins(z1) = %v", got)
	}
	if n := len(f.edge.Twins("")); n != 3 {
		t.Errorf("Twins(all) has %d, want 3", n)
	}
	if _, ok := f.edge.Twin("nope"); ok {
		t.Error("Twin(nope) found")
	}
}

// TestWatchSlowWatcher: a watcher that does not read loses changes, is told
// how many, and never holds commits up.
func TestWatchSlowWatcher(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFixture(t, devices.Options{WatchBuffer: 4})
	ch := f.edge.Watch(ctx)
	const n = 20
	for c := uint64(1); c <= n; c++ {
		// Strict mode: each Commit returns after its batch is written and
		// published, so the order below is deterministic.
		if _, err := f.edge.Commit(ctx, levelUpdate(f.sl1.KID, c)); err != nil {
			t.Fatal(err)
		}
	}
	var got []devices.TwinChange
	for i := 0; i < 4; i++ {
		got = append(got, <-ch)
	}
	for i, c := range got {
		if c.Device != "sl-1" || c.Zone != "z1" || c.Doc.Security.LastCtr != uint64(i+1) || c.Missed != 0 {
			t.Errorf("change %d = %s/%s last_ctr %d missed %d", i, c.Zone, c.Device, c.Doc.Security.LastCtr, c.Missed)
		}
	}
	if _, err := f.edge.Commit(ctx, levelUpdate(f.sl1.KID, n+1)); err != nil {
		t.Fatal(err)
	}
	next := <-ch
	if next.Missed != n-4 || next.Doc.Security.LastCtr != n+1 {
		t.Errorf("after falling behind: missed %d last_ctr %d, want missed %d last_ctr %d", next.Missed, next.Doc.Security.LastCtr, n-4, n+1)
	}
	cancel()
	for range ch { // closes once ctx ends
	}
}

// levelUpdate is a state message of streetlight kid with counter ctr that
// changes its twin (the level is the counter).
func levelUpdate(kid []byte, ctr uint64) devices.Update {
	return devices.Update{KID: kid, Counter: ctr, Kind: devices.State, Patch: fmt.Appendf(nil, `{"level":%d}`, ctr)}
}

// failingStore fails every write, as a full disk would.
type failingStore struct{ devices.Store }

func (failingStore) Commit(context.Context, []devices.Change) error { return errors.New("disk full") }

func (failingStore) ExtendLeases(context.Context, []devices.LeaseExtension, []devices.Change) ([]error, error) {
	return nil, errors.New("disk full")
}

func TestStoreFailureStopsCommits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	e, err := devices.Open(ctx, failingStore{f.store}, devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	_, err = e.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: 1, Kind: devices.Telemetry})
	if !errors.Is(err, devices.ErrStoreFailed) {
		t.Fatalf("first commit: %v, want ErrStoreFailed", err)
	}
	_, err = e.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: 2, Kind: devices.Telemetry})
	if !errors.Is(err, devices.ErrStoreFailed) {
		t.Fatalf("later commit: %v, want ErrStoreFailed (fail-stop)", err)
	}
}

func TestCommitAfterClose(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	if err := f.edge.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.edge.Commit(ctx, devices.Update{KID: f.sl1.KID, Counter: 1}); !errors.Is(err, devices.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
}

// TestLookupsDoNotAllocate: the per-message lookups of SPEC §4 steps 4 and 7
// run on every PUBLISH and must not allocate.
func TestLookupsDoNotAllocate(t *testing.T) {
	f := newFixture(t, devices.Options{})
	kid := append([]byte(nil), f.sl1.KID...)
	allocs := testing.AllocsPerRun(100, func() {
		k, ok := f.edge.KeyByKID(kid)
		if !ok || k.Owner != "sl-1" {
			t.Fatal("KeyByKID lost sl-1")
		}
		if err := f.edge.PreCheck(kid, 7); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("KeyByKID + PreCheck allocate %v times per call, want 0", allocs)
	}
}

// TestTelemetryCountersSurviveRestart: telemetry moves only a twin's
// security counters; those, the state update between them and the window are
// all durable once Commit returns, and after a restart the counters are all
// there and the last counter is a replay. (Deferring telemetry twins' writes
// to FlushInterval was tried and measured no faster: signet bench broker,
// strict, three alternating runs each.)
func TestTelemetryCountersSurviveRestart(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	for c := uint64(1); c <= 5; c++ {
		if _, err := f.edge.Commit(ctx, devices.Update{KID: f.aq1.KID, Counter: c, Kind: devices.Telemetry}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.edge.Commit(ctx, devices.Update{KID: f.aq1.KID, Counter: 6, Kind: devices.State, Patch: []byte(`{"pm25":9,"units":{"pm25":"ug/m3"}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.edge.Commit(ctx, devices.Update{KID: f.aq1.KID, Counter: 7, Kind: devices.Telemetry}); err != nil {
		t.Fatal(err)
	}
	f.reopen(t, devices.Options{})
	doc, ok := f.edge.Twin("aq-1")
	if !ok {
		t.Fatal("twin aq-1 missing after restart")
	}
	if doc.Security.Accepted != 7 || doc.Security.LastCtr != 7 || doc.Reported["pm25"] != 9.0 {
		t.Fatalf("after restart: accepted %d last_ctr %d reported %v, want 7, 7, pm25 9",
			doc.Security.Accepted, doc.Security.LastCtr, doc.Reported)
	}
	if _, err := f.edge.Commit(ctx, devices.Update{KID: f.aq1.KID, Counter: 7, Kind: devices.Telemetry}); reasonOf(err) != signing.ReasonReplay {
		t.Fatalf("counter 7 again after restart: %v, want replay", err)
	}
}

// TestStagedInOrder: Stage takes effect in memory in call order before any
// Wait, so a gateway's messages can be queued one after another and waited
// for together; each Wait returns its own twin, and all reach the store.
func TestStagedInOrder(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{Durability: devices.Strict})
	var pending []*devices.Pending
	for c := uint64(1); c <= 5; c++ {
		p, err := f.edge.Stage(levelUpdate(f.sl1.KID, c))
		if err != nil {
			t.Fatalf("stage %d: %v", c, err)
		}
		pending = append(pending, p)
	}
	// Counter 5 is taken before anything is durable: a second copy is a
	// replay at once.
	if _, err := f.edge.Stage(levelUpdate(f.sl1.KID, 5)); reasonOf(err) != signing.ReasonReplay {
		t.Fatalf("second stage of counter 5: %v, want replay", err)
	}
	if doc, _ := f.edge.Twin("sl-1"); doc.Reported["level"] != 5.0 {
		t.Fatalf("twin in memory: level %v, want 5 (the last staged)", doc.Reported["level"])
	}
	for i, p := range pending {
		doc, err := p.Wait(ctx)
		if err != nil || doc.Reported["level"] != float64(i+1) {
			t.Fatalf("wait %d: level %v, %v; want %d", i+1, doc.Reported["level"], err, i+1)
		}
	}
	f.reopen(t, devices.Options{Durability: devices.Strict})
	if doc, _ := f.edge.Twin("sl-1"); doc.Reported["level"] != 5.0 {
		t.Fatalf("twin after restart: level %v, want 5", doc.Reported["level"])
	}
	if err := f.edge.PreCheck(f.sl1.KID, 5); reasonOf(err) != signing.ReasonReplay {
		t.Fatalf("after restart, counter 5: %v, want replay", err)
	}
}
