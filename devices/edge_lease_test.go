package devices_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
	bolt "go.etcd.io/bbolt"
)

// countingStore counts the store transactions an Edge asks for.
type countingStore struct {
	devices.Store
	commits, leases atomic.Int64
}

func (s *countingStore) Commit(ctx context.Context, c []devices.Change) error {
	s.commits.Add(1)
	return s.Store.Commit(ctx, c)
}

func (s *countingStore) ExtendLeases(ctx context.Context, l []devices.LeaseExtension, c []devices.Change) ([]error, error) {
	s.leases.Add(1)
	if len(c) > 0 {
		s.commits.Add(1) // the same transaction writes changes too
	}
	return s.Store.ExtendLeases(ctx, l, c)
}

// gatedStore holds every lease extension at the gate once closed: each call
// is announced on entered and waits for a value on open before it reaches
// the store.
type gatedStore struct {
	devices.Store
	closed  atomic.Bool
	entered chan []devices.LeaseExtension
	open    chan struct{}
}

func newGatedStore(s devices.Store) *gatedStore {
	return &gatedStore{Store: s, entered: make(chan []devices.LeaseExtension, 16), open: make(chan struct{})}
}

func (s *gatedStore) ExtendLeases(ctx context.Context, l []devices.LeaseExtension, c []devices.Change) ([]error, error) {
	if s.closed.Load() {
		s.entered <- l
		<-s.open
	}
	return s.Store.ExtendLeases(ctx, l, c)
}

// storedBound reads a key's bound straight from the store.
func storedBound(t *testing.T, s devices.Store, kid []byte) uint64 {
	t.Helper()
	return storedWindow(t, s, kid).HighWater
}

func commitOK(t *testing.T, e *devices.Edge, u devices.Update) {
	t.Helper()
	if _, err := e.Commit(context.Background(), u); err != nil {
		t.Fatalf("counter %d: %v", u.Counter, err)
	}
}

func commitReplay(t *testing.T, e *devices.Edge, u devices.Update) {
	t.Helper()
	if _, err := e.Commit(context.Background(), u); reasonOf(err) != signing.ReasonReplay {
		t.Fatalf("counter %d: %v, want replay", u.Counter, err)
	}
}

func tele(kid []byte, c uint64) devices.Update {
	return devices.Update{KID: kid, Counter: c, Kind: devices.Telemetry}
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s", what)
	}
	var zero T
	return zero
}

// TestLeaseCoversCounters: counters inside the lease are accepted once
// each, in any order inside the window; the first one takes the lease.
func TestLeaseCoversCounters(t *testing.T) {
	f := newFixture(t, devices.Options{LeaseBlock: 64})
	commitOK(t, f.edge, tele(f.sl1.KID, 10))
	if b := storedBound(t, f.store, f.sl1.KID); b != 10+64 {
		t.Fatalf("bound after the first counter = %d, want %d", b, 10+64)
	}
	for _, c := range []uint64{12, 11, 40, 13} {
		commitOK(t, f.edge, tele(f.sl1.KID, c))
	}
	for _, c := range []uint64{10, 12, 40} {
		commitReplay(t, f.edge, tele(f.sl1.KID, c))
	}
	commitOK(t, f.edge, tele(f.sl2.KID, 1)) // another key keeps working
}

// TestTelemetryNeedsNoTransaction: in strict mode a telemetry message or an
// event whose lease is durable is acknowledged with no store transaction at
// all; a state change still has its own.
func TestTelemetryNeedsNoTransaction(t *testing.T) {
	f := newFixture(t, devices.Options{})
	cs := &countingStore{Store: f.store}
	e, err := devices.Open(context.Background(), cs, devices.Options{Durability: devices.Strict, FlushInterval: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	commitOK(t, e, tele(f.aq1.KID, 1)) // takes the lease: one extension
	if n := cs.leases.Load(); n != 1 {
		t.Fatalf("lease extensions after the first counter = %d, want 1", n)
	}
	for c := uint64(2); c <= 100; c++ {
		u := tele(f.aq1.KID, c)
		if c%2 == 0 {
			u.Kind = devices.Event
		}
		commitOK(t, e, u)
	}
	if c, l := cs.commits.Load(), cs.leases.Load(); c != 0 || l != 1 {
		t.Errorf("after 99 covered telemetry and events: %d commits and %d lease extensions, want 0 and 1", c, l)
	}
	commitOK(t, e, levelUpdate(f.sl1.KID, 1))
	commitOK(t, e, levelUpdate(f.sl1.KID, 2))
	if c := cs.commits.Load(); c != 2 {
		t.Errorf("after two state changes: %d commits, want 2 (the twin is durable before the ack)", c)
	}
	if d := storedTwin(t, f.store, "sl-1"); d == nil || d.Reported["level"] != float64(2) {
		t.Errorf("stored twin after strict state commits = %+v, want level 2", d)
	}
}

// TestLeaseExtendsAheadOfUse: once fewer than B/2 counters of the lease are
// left, the next block is asked for at once; while the store holds that
// extension, the counters still inside the lease are all accepted.
func TestLeaseExtendsAheadOfUse(t *testing.T) {
	const B = 16
	f := newFixture(t, devices.Options{})
	gs := newGatedStore(f.store)
	e, err := devices.Open(context.Background(), gs, devices.Options{LeaseBlock: B})
	if err != nil {
		t.Fatal(err)
	}
	commitOK(t, e, tele(f.sl1.KID, 1)) // lease 1+B, durable
	gs.closed.Store(true)
	for c := uint64(2); c <= 2+B/2; c++ {
		commitOK(t, e, tele(f.sl1.KID, c))
	}
	// 1+B-10 = 7 left: below B/2, so the extension is on its way.
	ext := waitFor(t, gs.entered, "lease extension ahead of use")
	const h = 2 + B/2 // the highest accepted counter when it was asked for
	if len(ext) != 1 || ext[0].From != 1+B || ext[0].To != h+B {
		t.Fatalf("extension ahead of use = %+v, want from %d to %d", ext, 1+B, h+B)
	}
	for c := uint64(3 + B/2); c <= 1+B; c++ {
		commitOK(t, e, tele(f.sl1.KID, c)) // covered: no waiting on the held extension
	}
	close(gs.open)
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := storedBound(t, f.store, f.sl1.KID); b != h+B {
		t.Errorf("bound after the extension = %d, want %d", b, h+B)
	}
}

// TestLeaseDurableBeforeUse: a counter beyond the lease does not take effect
// until the extension over it is written, in relaxed mode too: while the
// store holds the extension, its twin change is not made and its Commit has
// not returned.
func TestLeaseDurableBeforeUse(t *testing.T) {
	for _, mode := range []devices.Durability{devices.Strict, devices.Relaxed} {
		t.Run(mode.String(), func(t *testing.T) { testLeaseDurableBeforeUse(t, mode) })
	}
}

func testLeaseDurableBeforeUse(t *testing.T, mode devices.Durability) {
	const B = 16
	f := newFixture(t, devices.Options{})
	gs := newGatedStore(f.store)
	e, err := devices.Open(context.Background(), gs, devices.Options{LeaseBlock: B, Durability: mode})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	commitOK(t, e, levelUpdate(f.sl1.KID, 1))
	commitOK(t, e, tele(f.sl2.KID, 1))
	gs.closed.Store(true)
	const far = 50 // beyond the lease 1+B
	done := make(chan error, 1)
	go func() {
		_, err := e.Commit(context.Background(), levelUpdate(f.sl1.KID, far))
		done <- err
	}()
	ext := waitFor(t, gs.entered, "lease extension over the far counter")
	if len(ext) != 1 || ext[0].From != 1+B || ext[0].To != far+B {
		t.Fatalf("extension = %+v, want from %d to %d", ext, 1+B, far+B)
	}
	select {
	case err := <-done:
		t.Fatalf("commit of counter %d returned (%v) before its lease was written", far, err)
	default:
	}
	if d, _ := e.Twin("sl-1"); d.Reported["level"] != float64(1) {
		t.Fatalf("twin level %v while the lease is not durable, want 1", d.Reported["level"])
	}
	commitOK(t, e, tele(f.sl2.KID, 2)) // another key inside its lease is not held up
	close(gs.open)
	if err := waitFor(t, done, "commit after the extension"); err != nil {
		t.Fatal(err)
	}
	if b := storedBound(t, f.store, f.sl1.KID); b != far+B {
		t.Errorf("stored bound = %d, want %d", b, far+B)
	}
}

// TestLeaseConflict: two edges share one store (as two brokers would share
// a replicated KV). Each takes leases by compare-and-set; the one whose
// compare-and-set fails re-reads the bound and refuses every counter up to
// it, so no counter is accepted by both, while each keeps accepting honest
// counters above what the other leased.
func TestLeaseConflict(t *testing.T) {
	const B = 100
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	open := func() *devices.Edge {
		e, err := devices.Open(ctx, f.store, devices.Options{LeaseBlock: B})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := open(), open()
	kid := f.sl1.KID
	commitOK(t, a, tele(kid, 1)) // a leases 1..101
	commitReplay(t, b, tele(kid, 5))
	if got := storedBound(t, f.store, kid); got != 1+B {
		t.Fatalf("b's failed compare-and-set moved the bound to %d", got)
	}
	for _, c := range []uint64{1, 5, 1 + B} {
		if err := b.PreCheck(kid, c); reasonOf(err) != signing.ReasonReplay {
			t.Errorf("b after the conflict, counter %d: %v, want replay", c, err)
		}
	}
	commitOK(t, b, tele(kid, 2+B)) // b leases 102..202
	commitOK(t, a, tele(kid, 3))   // a's own lease still holds
	commitReplay(t, a, tele(kid, 2+B))
	commitReplay(t, a, tele(kid, 150)) // inside b's lease
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	commitOK(t, a, tele(kid, 3+2*B)) // above b's lease: a leases again
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := storedBound(t, f.store, kid); got != 3+3*B {
		t.Errorf("final bound = %d, want %d", got, 3+3*B)
	}
}

// movingStore moves a key's stored bound underneath the edge, as another
// broker on a shared store would, just before the edge's next extension.
type movingStore struct {
	devices.Store
	mu   sync.Mutex
	kid  []byte
	to   uint64 // the bound to move to; 0 once done
	from uint64
}

func (s *movingStore) ExtendLeases(ctx context.Context, l []devices.LeaseExtension, c []devices.Change) ([]error, error) {
	s.mu.Lock()
	if s.to != 0 {
		res, err := s.Store.ExtendLeases(ctx, []devices.LeaseExtension{{KID: s.kid, From: s.from, To: s.to}}, nil)
		if err != nil || res[0] != nil {
			s.mu.Unlock()
			return nil, errors.Join(err, res[0])
		}
		s.to = 0
	}
	s.mu.Unlock()
	return s.Store.ExtendLeases(ctx, l, c)
}

// TestLeaseMovedUnderneath: an ahead-of-use extension that meets a bound
// moved by another writer makes the edge refuse everything up to that bound,
// and its next counter above it is accepted.
func TestLeaseMovedUnderneath(t *testing.T) {
	const B = 16
	f := newFixture(t, devices.Options{})
	ms := &movingStore{Store: f.store, kid: f.sl1.KID}
	e, err := devices.Open(context.Background(), ms, devices.Options{LeaseBlock: B})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	commitOK(t, e, tele(f.sl1.KID, 1)) // lease 1+B
	ms.mu.Lock()
	ms.from, ms.to = 1+B, 1000
	ms.mu.Unlock()
	commitOK(t, e, tele(f.sl1.KID, 1+B)) // nothing left: the ahead extension meets 1000
	// The conflict may still be on its way: a counter above the stored
	// bound waits for it and is then accepted under a new lease.
	commitOK(t, e, tele(f.sl1.KID, 1001))
	for _, c := range []uint64{2, 500, 1000} {
		if err := e.PreCheck(f.sl1.KID, c); reasonOf(err) != signing.ReasonReplay {
			t.Errorf("counter %d below the other writer's bound: %v, want replay", c, err)
		}
	}
	if b := storedBound(t, f.store, f.sl1.KID); b != 1001+B {
		t.Errorf("stored bound = %d, want %d", b, 1001+B)
	}
}

// TestOldStoreIsLeaseFloor: a store written before leases holds each key's
// highest accepted counter (8 bytes), or, after a clean stop, that mark
// followed by the whole window. Both open; the mark is the lease floor, the
// whole window resumes exactly once more, and the first counter accepted
// rewrites the record as a lease above it.
func TestOldStoreIsLeaseFloor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	if err := f.edge.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.store.Close()
	// The record formats of the code before leases, written by hand.
	db, err := bolt.Open(f.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	win := windowAt(t, 500)   // everything up to 500 seen...
	clear(win[9+8*6 : 9+8*7]) // ... but counters 384..447 (ring block 6): late ones never seen
	old := func(hw uint64, window []byte) []byte {
		return append(binary.BigEndian.AppendUint64(nil, hw), window...)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		w := tx.Bucket([]byte("windows"))
		if err := w.Put(f.sl1.KID, old(500, nil)); err != nil {
			return err
		}
		return w.Put(f.sl2.KID, old(500, win))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	f.store = openStore(t, f.path)
	f.open(t, devices.Options{})
	commitReplay(t, f.edge, tele(f.sl1.KID, 500))
	commitReplay(t, f.edge, tele(f.sl1.KID, 499))
	commitOK(t, f.edge, tele(f.sl1.KID, 501))
	if b := storedBound(t, f.store, f.sl1.KID); b != 501+devices.DefaultLeaseBlock {
		t.Errorf("sl-1 bound after 501 = %d, want %d", b, 501+devices.DefaultLeaseBlock)
	}

	const late = 6*64 + 10 // in the block left free
	if _, err := f.edge.Commit(ctx, tele(f.sl2.KID, late)); err != nil {
		win2 := f.edge.PreCheck(f.sl2.KID, late)
		t.Fatalf("late counter %d inside the old whole window: %v (pre-check %v)", late, err, win2)
	}
	commitReplay(t, f.edge, tele(f.sl2.KID, late))
	w := storedWindow(t, f.store, f.sl2.KID)
	if w.HighWater != late+devices.DefaultLeaseBlock || len(w.State) != 0 {
		t.Errorf("sl-2 record after a counter: bound %d with %d bytes of window, want bound %d alone", w.HighWater, len(w.State), late+devices.DefaultLeaseBlock)
	}
	// A crash now: a copy of the file refuses the late counter too.
	crashed := copyStore(t, f.path)
	e, err := devices.Open(ctx, crashed, devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	if err := e.PreCheck(f.sl2.KID, late); reasonOf(err) != signing.ReasonReplay {
		t.Errorf("late counter after a crash: %v, want replay", err)
	}
}

// copyStore copies a store file, as a crash would leave it, and opens it.
func copyStore(t *testing.T, path string) devices.Store {
	t.Helper()
	data, err := os.ReadFile(path) // every write the edge waited for was fsynced
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return openStore(t, dst)
}
