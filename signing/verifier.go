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
	// MaxBatch caps one Ed25519 batch (0: 1024). Per-signature cost falls
	// with batch size (edbatch.BenchmarkBatchSizes, signet bench verify:
	// about 0.35x crypto/ed25519 at 64, 0.23x at 1024), and a batch only
	// grows that large when that many callers are waiting at once, so the
	// cap costs an idle verifier nothing.
	MaxBatch int
	// MaxDelay is the longest a request waits for its batch to fill
	// (0: 1ms); see dispatch.go for when it waits at all.
	MaxDelay time.Duration
	// QueueSize bounds the requests waiting to be batched (0: 4096). A full
	// queue blocks callers: back-pressure onto their connections, never
	// unbounded memory.
	QueueSize int
	// Quarantine is how long a key whose signature failed is verified singly
	// rather than in batches (0: 10 s), so one hostile sender cannot make
	// every batch it joins fail and bisect.
	Quarantine time.Duration
}

// otherChunk is how many single verifications (other algorithms,
// quarantined keys) one job carries, so that a burst of ML-DSA is spread
// over the workers rather than queued behind one.
const otherChunk = 8

// Verifier verifies signatures for many goroutines (one per MQTT
// connection) at once.
//
// One dispatcher goroutine (dispatch.go) takes requests from a bounded
// queue and hands jobs to the workers: Ed25519 requests from keys in good
// standing as one batch (edbatch.Batch, cofactored, so verdicts equal single
// verification), everything else in small chunks verified one by one (the
// parallel lanes of the other algorithms). A batch is handed over as soon as
// every caller that could still join it has (so a lone roadside gateway is
// verified at once, at single-verification speed, never held behind a
// deadline), and otherwise after at most MaxDelay, because per-signature
// cost falls with batch size.
type Verifier struct {
	cfg   VerifierConfig
	queue chan *request
	jobs  chan job
	idle  chan int // a worker finished a job of this many requests
	wg    sync.WaitGroup

	closeMu sync.RWMutex // guards closed and the sends on queue
	closed  bool

	qmu        sync.Mutex
	quarantine map[*edbatch.PublicKey]time.Time

	batches, signatures, singles, bisected atomic.Uint64
	pending                                atomic.Int64 // taken from the queue, not yet decided
}

type request struct {
	caller   string // who asked (WithCaller); "" if unknown
	key      PublicKey
	ek       *edbatch.PublicKey // nil: not batchable
	msg, sig []byte
	ok       bool
	done     chan struct{}
}

// job is one unit of work for a worker: a batch or a chunk of singles.
type job struct {
	batch   bool
	entries []*request
}

// edwardsKeyed is what an Ed25519 PublicKey offers the batch path.
type edwardsKeyed interface{ EdwardsKey() *edbatch.PublicKey }

// NewVerifier starts the dispatcher and the workers.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = 10 * time.Second
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = time.Millisecond
	}
	v := &Verifier{
		cfg:        cfg,
		queue:      make(chan *request, cfg.QueueSize),
		jobs:       make(chan job),
		idle:       make(chan int, cfg.Workers),
		quarantine: map[*edbatch.PublicKey]time.Time{},
	}
	for range cfg.Workers {
		v.wg.Add(1)
		go v.work()
	}
	v.wg.Add(1)
	go v.dispatch()
	return v
}

// Verify reports whether signature is valid for message under key. It
// blocks until a worker has decided, ctx ends, or the verifier is closed.
func (v *Verifier) Verify(ctx context.Context, key PublicKey, message, signature []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r := &request{caller: callerOf(ctx), key: key, msg: message, sig: signature, done: make(chan struct{})}
	if ek, ok := key.(edwardsKeyed); ok {
		r.ek = ek.EdwardsKey()
	}
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

// Close stops taking requests, decides every request already taken, and
// waits for the workers.
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
	Queued     int    // requests waiting now, queued or gathered for the next job
}

// Stats returns the counters.
func (v *Verifier) Stats() VerifierStats {
	return VerifierStats{
		Batches: v.batches.Load(), Signatures: v.signatures.Load(), Singles: v.singles.Load(),
		Bisected: v.bisected.Load(), Queued: len(v.queue) + int(v.pending.Load()),
	}
}

func (v *Verifier) work() {
	defer v.wg.Done()
	var b edbatch.Batch
	var verdicts []bool
	for j := range v.jobs {
		v.pending.Add(-int64(len(j.entries)))
		v.do(j, &b, &verdicts)
		v.idle <- len(j.entries)
	}
}

// do decides every request of a job.
func (v *Verifier) do(j job, b *edbatch.Batch, verdicts *[]bool) {
	if !j.batch || len(j.entries) == 1 {
		for _, r := range j.entries {
			v.single(r)
		}
		return
	}
	b.Reset()
	for _, r := range j.entries {
		b.Add(r.ek, r.msg, r.sig)
	}
	v.batches.Add(1)
	if b.Verify() {
		for _, r := range j.entries {
			v.finish(r, true)
		}
		return
	}
	v.bisected.Add(1)
	if cap(*verdicts) < len(j.entries) {
		*verdicts = make([]bool, len(j.entries))
	}
	out := (*verdicts)[:len(j.entries)]
	b.VerifyEach(out)
	for i, r := range j.entries {
		if !out[i] {
			v.suspect(r.ek)
		}
		v.finish(r, out[i])
	}
}

// single verifies r alone.
func (v *Verifier) single(r *request) {
	v.singles.Add(1)
	ok := r.key.Verify(r.msg, r.sig)
	if !ok && r.ek != nil {
		v.suspect(r.ek)
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
