package signing

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/signing/edbatch"
)

// Errors of the Verifier.
var (
	// ErrVerifierClosed: Verify after Close.
	ErrVerifierClosed = errors.New("signing: verifier closed")
)

// VerifierConfig tunes a Verifier. The zero value is the default.
type VerifierConfig struct {
	// Workers verify in parallel (0: GOMAXPROCS).
	Workers int
	// MaxBatch caps one Ed25519 batch (0: 64, the best size measured by
	// edbatch.BenchmarkCityStream on the 2-core machine).
	MaxBatch int
	// QueueSize bounds waiting requests (0: 4096). A full queue blocks
	// callers: back-pressure onto their connections, never unbounded memory.
	QueueSize int
	// MaxDelay is how long a worker may wait to fill a batch, and only
	// while another worker is busy (load); an idle verifier never waits
	// (0: 500µs).
	MaxDelay time.Duration
	// Quarantine is how long a key whose signature failed is verified singly
	// rather than in batches (0: 10 s), so one hostile sender cannot make
	// every batch it joins fail and bisect.
	Quarantine time.Duration
}

// Verifier verifies signatures for many goroutines (one per MQTT
// connection) at once. Ed25519 requests that arrive together are verified as
// one batch (edbatch.Batch, cofactored, so verdicts equal single
// verification); other algorithms are verified one by one on the same
// workers. Batching adapts to load: a worker takes the first waiting request
// and whatever else is already queued, up to MaxBatch; only if another
// worker is busy (the verifier is loaded) does it wait, at most MaxDelay, for
// the batch to fill. An idle verifier answers one request as fast as single
// verification, so a gateway's sequential requests are never held behind a
// deadline; under load, batches fill (measured: without the wait, callers
// released by one batch trickle back one by one and the other worker
// verifies them singly, BenchmarkVerifierCityStream).
type Verifier struct {
	cfg   VerifierConfig
	queue chan *request
	wg    sync.WaitGroup

	closeMu sync.RWMutex // guards closed and the sends on queue
	closed  bool

	qmu        sync.Mutex
	quarantine map[*edbatch.PublicKey]time.Time

	batches, signatures, singles, bisected atomic.Uint64
	busy                                   atomic.Int32 // workers verifying now
}

type request struct {
	key      PublicKey
	msg, sig []byte
	ok       bool
	done     chan struct{}
}

// edwardsKeyed is what an Ed25519 PublicKey offers the batch path.
type edwardsKeyed interface{ EdwardsKey() *edbatch.PublicKey }

// NewVerifier starts the workers.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 64
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 500 * time.Microsecond
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = 10 * time.Second
	}
	v := &Verifier{cfg: cfg, queue: make(chan *request, cfg.QueueSize), quarantine: map[*edbatch.PublicKey]time.Time{}}
	for range cfg.Workers {
		v.wg.Add(1)
		go v.work()
	}
	return v
}

// Verify reports whether signature is valid for message under key. It
// blocks until a worker has decided, ctx ends, or the verifier is closed.
func (v *Verifier) Verify(ctx context.Context, key PublicKey, message, signature []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r := &request{key: key, msg: message, sig: signature, done: make(chan struct{})}
	v.closeMu.RLock()
	if v.closed {
		v.closeMu.RUnlock()
		return false, ErrVerifierClosed
	}
	select {
	case v.queue <- r:
	case <-ctx.Done():
		v.closeMu.RUnlock()
		return false, ctx.Err()
	}
	v.closeMu.RUnlock()
	select {
	case <-r.done:
		return r.ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Close stops taking requests, lets the workers finish every queued one,
// and waits for them.
func (v *Verifier) Close() error {
	v.closeMu.Lock()
	if v.closed {
		v.closeMu.Unlock()
		return nil
	}
	v.closed = true
	close(v.queue)
	v.closeMu.Unlock()
	v.wg.Wait()
	return nil
}

// VerifierStats are counters for metrics.
type VerifierStats struct {
	Batches    uint64 // Ed25519 batches verified (of 2 or more)
	Signatures uint64 // signatures decided
	Singles    uint64 // signatures verified alone (other algorithms, lone or quarantined Ed25519)
	Bisected   uint64 // batches that failed and were split to find the bad entries
	Queued     int    // requests waiting now
}

// Stats returns the counters.
func (v *Verifier) Stats() VerifierStats {
	return VerifierStats{
		Batches: v.batches.Load(), Signatures: v.signatures.Load(), Singles: v.singles.Load(),
		Bisected: v.bisected.Load(), Queued: len(v.queue),
	}
}

func (v *Verifier) work() {
	defer v.wg.Done()
	var batch edbatch.Batch
	var inBatch []*request
	verdicts := make([]bool, v.cfg.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range v.queue {
		v.busy.Add(1)
		inBatch = inBatch[:0]
		batch.Reset()
		v.take(first, &batch, &inBatch)
		v.fill(&batch, &inBatch, timer)
		v.verifyBatch(&batch, inBatch, verdicts)
		v.busy.Add(-1)
	}
}

// fill adds queued requests up to MaxBatch. When the queue runs dry it
// waits, at most MaxDelay, only while another worker is busy.
func (v *Verifier) fill(batch *edbatch.Batch, inBatch *[]*request, timer *time.Timer) {
	waiting := false
	defer timer.Stop()
	for batch.Len() < v.cfg.MaxBatch {
		select {
		case r, ok := <-v.queue:
			if !ok {
				return
			}
			v.take(r, batch, inBatch)
			continue
		default:
		}
		if !waiting {
			if v.busy.Load() < 2 {
				return // no other worker is busy: verify now
			}
			waiting = true
			timer.Reset(v.cfg.MaxDelay)
		}
		select {
		case r, ok := <-v.queue:
			if !ok {
				return
			}
			v.take(r, batch, inBatch)
		case <-timer.C:
			return
		}
	}
}

// verifyBatch decides every request of a batch.
func (v *Verifier) verifyBatch(batch *edbatch.Batch, inBatch []*request, verdicts []bool) {
	switch len(inBatch) {
	case 0:
	case 1:
		v.singles.Add(1)
		v.finish(inBatch[0], inBatch[0].key.Verify(inBatch[0].msg, inBatch[0].sig))
	default:
		v.batches.Add(1)
		if batch.Verify() {
			for _, r := range inBatch {
				v.finish(r, true)
			}
			return
		}
		v.bisected.Add(1)
		batch.VerifyEach(verdicts)
		for i, r := range inBatch {
			if !verdicts[i] {
				v.suspect(r.key.(edwardsKeyed).EdwardsKey())
			}
			v.finish(r, verdicts[i])
		}
	}
}

// take adds r to the batch if it is an Ed25519 request from a key in good
// standing, and verifies it alone otherwise.
func (v *Verifier) take(r *request, batch *edbatch.Batch, inBatch *[]*request) {
	if ek, ok := r.key.(edwardsKeyed); ok && !v.quarantined(ek.EdwardsKey()) {
		batch.Add(ek.EdwardsKey(), r.msg, r.sig)
		*inBatch = append(*inBatch, r)
		return
	}
	v.singles.Add(1)
	ok := r.key.Verify(r.msg, r.sig)
	if !ok {
		if ek, isEd := r.key.(edwardsKeyed); isEd {
			v.suspect(ek.EdwardsKey())
		}
	}
	v.finish(r, ok)
}

func (v *Verifier) finish(r *request, ok bool) {
	v.signatures.Add(1)
	r.ok = ok
	close(r.done)
}

func (v *Verifier) suspect(k *edbatch.PublicKey) {
	v.qmu.Lock()
	v.quarantine[k] = time.Now().Add(v.cfg.Quarantine)
	v.qmu.Unlock()
}

func (v *Verifier) quarantined(k *edbatch.PublicKey) bool {
	v.qmu.Lock()
	defer v.qmu.Unlock()
	until, ok := v.quarantine[k]
	if ok && time.Now().After(until) {
		delete(v.quarantine, k)
		return false
	}
	return ok
}
