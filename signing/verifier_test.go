package signing

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestVerifierVerdictsUnderConcurrency: many goroutines, several algorithms,
// valid and invalid signatures; each caller gets its own right verdict.
func TestVerifierVerdictsUnderConcurrency(t *testing.T) {
	v := NewVerifier(VerifierConfig{MaxBatch: 16})
	defer v.Close()
	keys := []PrivateKey{mustKey(t, AlgEd25519), mustKey(t, AlgEd25519), mustKey(t, AlgEd25519), mustKey(t, AlgES256), mustKey(t, AlgEdDSA)}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				k := keys[(g+i)%len(keys)]
				msg := []byte{byte(g), byte(i)}
				sig, _ := k.Sign(msg)
				want := (g*7+i)%5 != 0
				if !want {
					sig[len(sig)-1] ^= 1
				}
				got, err := v.Verify(context.Background(), k.Public(), msg, sig)
				if err != nil || got != want {
					t.Errorf("goroutine %d msg %d: got %v %v, want %v", g, i, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	s := v.Stats()
	if s.Signatures != 16*40 {
		t.Fatalf("stats: %d signatures decided, want %d", s.Signatures, 16*40)
	}
}

func TestVerifierCloseAndCancel(t *testing.T) {
	v := NewVerifier(VerifierConfig{Workers: 1})
	k := mustKey(t, AlgEd25519)
	sig, _ := k.Sign([]byte("m"))
	if ok, err := v.Verify(context.Background(), k.Public(), []byte("m"), sig); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, k.Public(), []byte("m"), sig); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	v.Close()
	if _, err := v.Verify(context.Background(), k.Public(), []byte("m"), sig); !errors.Is(err, ErrVerifierClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// TestVerifierSequentialCallerIsNeverBatched: a gateway sending one message
// at a time never waits for a batch: with every worker free, each request
// is handed over alone and verified singly.
func TestVerifierSequentialCallerIsNeverBatched(t *testing.T) {
	v := NewVerifier(VerifierConfig{Workers: 2})
	defer v.Close()
	k := mustKey(t, AlgEd25519)
	for i := range 50 {
		msg := []byte{byte(i)}
		sig, _ := k.Sign(msg)
		if ok, err := v.Verify(context.Background(), k.Public(), msg, sig); !ok || err != nil {
			t.Fatalf("message %d: %v %v", i, ok, err)
		}
	}
	if s := v.Stats(); s.Batches != 0 || s.Singles != 50 || s.BatchSizes != [BatchSizeClasses]uint64{50} {
		t.Fatalf("stats %+v: want 50 singles, all in size class 0, and no batch", s)
	}
}

// TestBatchSizeClass: class 0 is one signature, class i a batch of more
// than 2^(i-1) and at most 2^i, and the last class takes the rest.
func TestBatchSizeClass(t *testing.T) {
	for n, want := range map[int]int{1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 16: 4, 17: 5, 100: 7, 128: 7, 129: 8, 1024: 10, 1025: 11, 2048: 11, 2049: 11, 1 << 20: 11} {
		if got := BatchSizeClass(n); got != want {
			t.Errorf("BatchSizeClass(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestVerifierBatchGrowsWhileLeadersAreBusy: requests that arrive while
// every leader slot is taken gather into one open batch, and the leader
// that finishes hands its slot to one of their callers: ten waiting
// requests are decided by one batch verification, the bad one among them
// found by bisection and its key quarantined.
func TestVerifierBatchGrowsWhileLeadersAreBusy(t *testing.T) {
	v := NewVerifier(VerifierConfig{Workers: 1})
	defer v.Close()
	v.mu.Lock()
	v.leading = 1 // as if a leader were verifying an earlier batch
	v.mu.Unlock()
	good, bad := mustKey(t, AlgEd25519), mustKey(t, AlgEd25519)
	type result struct {
		i  int
		ok bool
	}
	results := make(chan result, 10)
	for i := range 10 {
		k := good
		if i == 7 {
			k = bad
		}
		msg := []byte{byte(i)}
		sig, _ := k.Sign(msg)
		if i == 7 {
			sig[0] ^= 1
		}
		go func() {
			ok, err := v.Verify(context.Background(), k.Public(), msg, sig)
			if err != nil {
				t.Error(err)
			}
			results <- result{i, ok}
		}()
	}
	for { // wait until all ten are in the open batch
		v.mu.Lock()
		n := len(v.open)
		v.mu.Unlock()
		if n == 10 {
			break
		}
		runtime.Gosched()
	}
	v.mu.Lock()
	heir := v.chooseHeir() // the busy leader finishes (run)
	v.mu.Unlock()
	heir.lead = true
	heir.wake <- struct{}{}
	for range 10 {
		r := <-results
		if r.ok != (r.i != 7) {
			t.Errorf("request %d: verdict %v", r.i, r.ok)
		}
	}
	if s := v.Stats(); s.Batches != 1 || s.Signatures != 10 || s.Bisected != 1 || s.Singles != 0 || s.BatchSizes != [BatchSizeClasses]uint64{4: 1} {
		t.Fatalf("stats %+v: want one batch of 10 (size class 4), bisected once", s)
	}
	if !v.quarantined(bad.Public().(edwardsKeyed).EdwardsKey()) || v.quarantined(good.Public().(edwardsKeyed).EdwardsKey()) {
		t.Fatal("want the bad signature's key quarantined, and only it")
	}
}

// asyncVerifies returns verify(i), which asks v, on a goroutine of its own,
// to verify a valid signature of message i and sends the verdict to
// results, and waitOpen(n), which waits until n requests wait in the open
// batch or until a batch was verified (which the caller's check of the
// stats then reports).
func asyncVerifies(t *testing.T, v *Verifier, results chan<- bool) (verify, waitOpen func(int)) {
	k := mustKey(t, AlgEd25519)
	verify = func(i int) {
		msg := []byte{byte(i), byte(i >> 8)}
		sig, _ := k.Sign(msg)
		go func() {
			ok, err := v.Verify(context.Background(), k.Public(), msg, sig)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	waitOpen = func(n int) {
		for {
			v.mu.Lock()
			got := len(v.open)
			v.mu.Unlock()
			if got == n || v.Stats().Signatures > 0 {
				return
			}
			runtime.Gosched()
		}
	}
	return verify, waitOpen
}

// TestVerifierHeirTakesWhatArrivedWhileItWaited: a finishing leader hands
// its slot to the first waiting caller, which takes the open batch only
// when it runs: requests that arrive in between join that batch, and none
// starts a batch of its own meanwhile, even past MinParallelBatch with a
// leader slot free.
func TestVerifierHeirTakesWhatArrivedWhileItWaited(t *testing.T) {
	v := NewVerifier(VerifierConfig{Workers: 2, MinParallelBatch: 4})
	v.mu.Lock()
	v.leading = 1 // as if a leader were verifying an earlier batch
	v.mu.Unlock()
	results := make(chan bool, 16)
	verify, waitOpen := asyncVerifies(t, v, results)
	verify(0)
	verify(1)
	waitOpen(2)
	v.mu.Lock()
	heir := v.chooseHeir() // the busy leader finishes: the heir is not yet woken
	v.mu.Unlock()
	for i := 2; i < 16; i++ {
		verify(i)
	}
	waitOpen(16)
	if s := v.Stats(); s.Signatures != 0 {
		t.Fatalf("stats %+v: a batch started while the heir was waiting to run", s)
	}
	heir.lead = true
	heir.wake <- struct{}{}
	for range 16 {
		select {
		case ok := <-results:
			if !ok {
				t.Error("a valid signature was refused")
			}
		case <-time.After(time.Minute):
			// A request taken by another batch while the heir waited
			// leaves the heir's slot held for ever: fail, without the
			// Close that would wait for it.
			t.Fatal("verdicts missing: the heir's batch never ran")
		}
	}
	if s := v.Stats(); s.Batches != 1 || s.Signatures != 16 || s.Singles != 0 {
		t.Fatalf("stats %+v: want one batch of all 16", s)
	}
	v.Close()
}

// TestVerifierSecondBatchOnlyPastMinParallelBatch: while a batch is being
// verified, the requests that arrive wait for it and form the next one,
// however many leader slots are free, until MinParallelBatch (128 by
// default) wait: then one of them leads them all beside the busy leader.
func TestVerifierSecondBatchOnlyPastMinParallelBatch(t *testing.T) {
	v := NewVerifier(VerifierConfig{Workers: 2})
	const minParallel = 128
	v.mu.Lock()
	v.leading = 1 // as if a leader were verifying an earlier batch
	v.mu.Unlock()
	t.Cleanup(func() {
		v.mu.Lock()
		v.leaveLead() // the busy leader of the earlier batch finishes
		v.mu.Unlock()
		v.Close()
	})
	results := make(chan bool, minParallel)
	verify, waitOpen := asyncVerifies(t, v, results)
	for i := range minParallel - 1 {
		verify(i)
	}
	waitOpen(minParallel - 1)
	v.mu.Lock()
	leading := v.leading
	v.mu.Unlock()
	if leading != 1 || v.Stats().Signatures != 0 {
		t.Fatalf("%d leaders, %+v with %d waiting: want them all waiting for the busy leader", leading, v.Stats(), minParallel-1)
	}
	verify(minParallel - 1) // the last starts a batch beside the busy one
	for range minParallel {
		if !<-results {
			t.Error("a valid signature was refused")
		}
	}
	if s := v.Stats(); s.Batches != 1 || s.Signatures != minParallel || s.Singles != 0 {
		t.Fatalf("stats %+v: want one batch of %d", s, minParallel)
	}
}

// TestVerifierLeadsAtMostOneBatchPerCPU: by default no more batches are
// verified at once than there are CPUs, even when GOMAXPROCS is higher
// (a broker runs two Ps per CPU), nor than there are Ps.
func TestVerifierLeadsAtMostOneBatchPerCPU(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	cpus := runtime.NumCPU()
	runtime.GOMAXPROCS(2 * cpus)
	if v := NewVerifier(VerifierConfig{}); v.cfg.Workers != cpus {
		t.Errorf("GOMAXPROCS %d on %d CPUs: %d workers, want %d", 2*cpus, cpus, v.cfg.Workers, cpus)
	}
	runtime.GOMAXPROCS(1)
	if v := NewVerifier(VerifierConfig{}); v.cfg.Workers != 1 {
		t.Errorf("GOMAXPROCS 1: %d workers, want 1", v.cfg.Workers)
	}
	if v := NewVerifier(VerifierConfig{Workers: 7}); v.cfg.Workers != 7 {
		t.Errorf("Workers 7 asked for: %d", v.cfg.Workers)
	}
}
