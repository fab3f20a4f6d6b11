package signing

import (
	"context"
	"errors"
	"math/bits"
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
	// Workers is how many batches may be verified at once, each on the
	// goroutine of the caller that leads it (0: DefaultWorkers).
	Workers int
	// MaxBatch caps one Ed25519 batch (0: 1024). Per-signature cost falls
	// with batch size (edbatch.BenchmarkBatchSizes, signet bench verify),
	// and a batch only grows that large when that many callers arrive
	// while the batches before it are being verified, so the cap costs an
	// idle verifier nothing.
	MaxBatch int
	// MinParallelBatch is how many requests must be waiting before a batch
	// is started beside one already being verified (0: 128). Below it they
	// wait for the running batch to finish and form the next one: one batch
	// of 128 costs far less per signature than 128 verified one by one as
	// each caller found a free slot. A higher threshold makes larger
	// batches on two busy cores, but leaves a core idle where callers do
	// nothing but verify, and slows gateways' turns (docs/performance.md).
	MinParallelBatch int
	// QueueSize bounds the requests waiting for a batch (0: 4096). Callers
	// beyond it wait for room: back-pressure onto their connections, never
	// unbounded memory.
	QueueSize int
	// Quarantine is how long a key whose signature failed is verified singly
	// rather than in batches (0: 10 s), so one hostile sender cannot make
	// every batch it joins fail and bisect.
	Quarantine time.Duration
}

// Verifier verifies signatures for many goroutines (one per MQTT
// connection) at once, as a combining batcher: no goroutine of its own, and
// at most one hand-off per request.
//
// An Ed25519 request from a key in good standing joins the open batch. If
// no batch is being verified, or fewer than Workers are and MinParallelBatch
// requests wait, its caller takes the open batch (everything that gathered
// while the others were busy) and verifies it on its own goroutine as the
// batch's leader (edbatch.Batch, cofactored,
// so verdicts equal single verification), then wakes the other callers of
// the batch. Otherwise it waits; when a leader finishes, it hands its
// slot to the first waiting caller, which takes the open batch when it
// runs, with whatever joined while it waited for a CPU. So a
// request is never held back when the verifier is idle (a lone roadside
// gateway is verified at once, alone), and batches grow exactly as fast as
// requests arrive while earlier ones are verified: with load, never with a
// timer. A caller that would lead alone first yields the processor once
// (runtime.Gosched): goroutines already runnable, typically other
// connections' readers with a message just read, join its batch instead
// of each leading a batch of one at a single verification's full cost
// (in `signet bench broker --profile`, batches of one were over half of
// the verification CPU); with nothing runnable the yield returns at once.
// Every other request (other algorithms, quarantined keys) is
// verified by its caller alone, at once.
type Verifier struct {
	cfg     VerifierConfig
	room    chan struct{} // a token per Ed25519 request queued or in a batch (QueueSize)
	mu      sync.Mutex
	open    []*request // the batch that gathers
	leading int        // batches being verified now (at most Workers)
	// heir: a leader has handed its slot to the caller at the front of
	// open, which takes the open batch once it runs. Until then nobody
	// else takes from open.
	heir   bool
	closed bool
	idle   sync.Cond // broadcast when leading drops to 0

	batchPool sync.Pool // *edbatch.Batch, reused across leaders

	qmu        sync.Mutex
	quarantine map[*edbatch.PublicKey]time.Time

	signatures, bisected atomic.Uint64
	pending              atomic.Int64 // queued or being verified
	// sizes counts the verifications by size class: the singles in
	// class 0, the batches in the others.
	sizes [BatchSizeClasses]atomic.Uint64
}

// BatchSizeClasses is how many classes of verifications by size the
// Verifier counts (VerifierStats.BatchSizes): class 0 is a signature
// verified alone, class i ≥ 1 a batch of more than 2^(i-1) and at most
// 2^i signatures, and the last class takes every larger batch too. The
// cost per signature depends on the size of its batch, so these, not the
// mean batch, are what the verification CPU is made of.
const BatchSizeClasses = 12

// BatchSizeClass is the class of a verification of n ≥ 1 signatures.
func BatchSizeClass(n int) int {
	return min(bits.Len(uint(max(n, 1)-1)), BatchSizeClasses-1)
}

type request struct {
	key      PublicKey
	ek       *edbatch.PublicKey
	msg, sig []byte
	ok       bool // the verdict, once decided
	// wake is sent once per decision or hand-off: the verdict is in, or
	// (lead set) the caller now leads the open batch, at whose front it is.
	wake chan struct{}
	lead bool
}

// requestPool recycles requests and their wake channels: two allocations
// per signature otherwise. A request is recycled once its Verify returns,
// when no leader holds it any more: a leader touches a request only until
// it wakes its caller, and the wake it sent has been received.
var requestPool = sync.Pool{New: func() any { return &request{wake: make(chan struct{}, 1)} }}

// recycle clears r (dropping its references to the caller's bytes) and
// returns it to the pool.
func (r *request) recycle() {
	*r = request{wake: r.wake}
	requestPool.Put(r)
}

// edwardsKeyed is what an Ed25519 PublicKey offers the batch path.
type edwardsKeyed interface{ EdwardsKey() *edbatch.PublicKey }

// DefaultWorkers is the Workers of a zero VerifierConfig: one batch per
// CPU, and no more than GOMAXPROCS. Batches beyond the CPUs cannot run at
// once: a broker that runs more Ps than CPUs (broker.DefaultProcsPerCPU)
// would only split what waits into more, smaller batches, each costing
// more per signature (measured in docs/performance.md).
func DefaultWorkers() int { return min(runtime.NumCPU(), runtime.GOMAXPROCS(0)) }

// NewVerifier returns a Verifier; it starts no goroutine.
func NewVerifier(cfg VerifierConfig) *Verifier {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers()
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1024
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	if cfg.MinParallelBatch <= 0 {
		cfg.MinParallelBatch = 128
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = 10 * time.Second
	}
	v := &Verifier{cfg: cfg, room: make(chan struct{}, cfg.QueueSize), quarantine: map[*edbatch.PublicKey]time.Time{}}
	v.idle.L = &v.mu
	v.batchPool.New = func() any { return new(edbatch.Batch) }
	return v
}

// Verify reports whether signature is valid for message under key. ctx is
// checked until the request joins a batch; from then on the request is
// decided (within the time of the batches ahead of it), since a leader may
// already be verifying it for others.
func (v *Verifier) Verify(ctx context.Context, key PublicKey, message, signature []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if v.isClosed() {
		return false, ErrVerifierClosed
	}
	ek, ok := key.(edwardsKeyed)
	if !ok || v.quarantined(ek.EdwardsKey()) {
		return v.single(key, message, signature), nil
	}
	select {
	case v.room <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	r := requestPool.Get().(*request)
	defer r.recycle()
	r.key, r.ek, r.msg, r.sig = key, ek.EdwardsKey(), message, signature
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		<-v.room
		return false, ErrVerifierClosed
	}
	v.pending.Add(1)
	v.open = append(v.open, r)
	var batch []*request
	if v.leading == 0 && len(v.open) < v.cfg.MinParallelBatch {
		// Alone: lead, but first let the goroutines that are ready to run
		// (connections with a message read) join the batch.
		v.leading++
		v.mu.Unlock()
		runtime.Gosched()
		v.mu.Lock()
		if len(v.open) > 0 {
			batch = v.take()
		} else {
			v.leaveLead()
		}
	} else if v.leading < v.cfg.Workers && len(v.open) >= v.cfg.MinParallelBatch && !v.heir {
		v.leading++
		batch = v.take()
	}
	v.mu.Unlock()
	for {
		if batch != nil && v.run(r, batch) {
			return r.ok, nil
		}
		<-r.wake // happens after the verdict or the hand-off was written
		if !r.lead {
			return r.ok, nil
		}
		r.lead = false
		v.mu.Lock()
		v.heir = false
		batch = v.take() // r is its first: nobody took from open since
		v.mu.Unlock()
	}
}

// take removes up to MaxBatch requests from the front of the open batch;
// v.mu is held.
func (v *Verifier) take() []*request {
	n := min(len(v.open), v.cfg.MaxBatch)
	batch := v.open[:n:n]
	if n == len(v.open) {
		v.open = nil
	} else {
		v.open = v.open[n:]
	}
	return batch
}

// run verifies batch as its leader, self (whose caller runs it), wakes the
// batch's other callers with their verdicts, and hands the leadership on to
// the first caller of the next open batch, or gives its slot back. It
// reports whether self was in batch (and so is decided); a leader's own
// request can be left for a later batch when MaxBatch cut the open one.
func (v *Verifier) run(self *request, batch []*request) (selfDecided bool) {
	v.decide(batch)
	// Wake the batch's callers before choosing the next batch: those that
	// come straight back (a gateway with more to send) join it, instead of
	// finding no leader busy and each verifying alone.
	for _, r := range batch {
		<-v.room
		v.pending.Add(-1)
		if r == self {
			selfDecided = true
		} else {
			r.wake <- struct{}{}
		}
	}
	v.mu.Lock()
	heir := v.chooseHeir()
	v.mu.Unlock()
	if heir != nil {
		heir.lead = true
		heir.wake <- struct{}{}
	}
	return selfDecided
}

// chooseHeir is a finishing leader's hand-off; v.mu is held. It hands the
// leader's slot on to the caller at the front of the open batch if nobody
// else would collect that batch, or if it is large enough to run beside
// the other leaders' (a small one is left to join the next batch of a
// leader still running), and otherwise gives the slot back. The heir takes
// the batch when it runs, not now: on a busy machine it waits for a CPU,
// and what arrives meanwhile joins its batch rather than the one after.
// The caller wakes the heir it returns (nil: none).
func (v *Verifier) chooseHeir() *request {
	if len(v.open) > 0 && !v.heir && (v.leading == 1 || len(v.open) >= v.cfg.MinParallelBatch) {
		v.heir = true
		return v.open[0]
	}
	v.leaveLead()
	return nil
}

// decide sets the verdict of every request of batch: one Ed25519 batch
// verification, and on failure each signature alone to find the bad ones
// (whose keys are then quarantined).
func (v *Verifier) decide(batch []*request) {
	if len(batch) == 1 {
		r := batch[0]
		r.ok = v.single(r.key, r.msg, r.sig)
		return
	}
	b := v.batchPool.Get().(*edbatch.Batch)
	defer v.batchPool.Put(b)
	b.Reset()
	for _, r := range batch {
		b.Add(r.ek, r.msg, r.sig)
	}
	v.signatures.Add(uint64(len(batch)))
	v.sizes[BatchSizeClass(len(batch))].Add(1)
	if b.Verify() {
		for _, r := range batch {
			r.ok = true
		}
		return
	}
	v.bisected.Add(1)
	verdicts := make([]bool, len(batch))
	b.VerifyEach(verdicts)
	for i, r := range batch {
		if !verdicts[i] {
			v.suspect(r.ek)
		}
		r.ok = verdicts[i]
	}
}

// leaveLead gives a leader's slot back; v.mu is held.
func (v *Verifier) leaveLead() {
	v.leading--
	if v.leading == 0 {
		v.idle.Broadcast()
	}
}

func (v *Verifier) isClosed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}

// Close stops taking requests and waits until every request already
// queued is decided (by the leaders, which are the callers themselves).
func (v *Verifier) Close() error {
	v.mu.Lock()
	v.closed = true
	for v.leading > 0 {
		v.idle.Wait()
	}
	v.mu.Unlock()
	return nil
}

// VerifierStats are counters for metrics.
type VerifierStats struct {
	Batches    uint64 // Ed25519 batches verified (of 2 or more)
	Signatures uint64 // signatures decided
	Singles    uint64 // signatures verified alone (other algorithms, lone or quarantined Ed25519)
	Bisected   uint64 // batches that failed and were split to find the bad entries
	Queued     int    // Ed25519 requests waiting for or in a batch now
	// BatchSizes counts the verifications by size class (BatchSizeClass):
	// Singles in class 0, Batches in the others.
	BatchSizes [BatchSizeClasses]uint64
}

// Stats returns the counters.
func (v *Verifier) Stats() VerifierStats {
	s := VerifierStats{Signatures: v.signatures.Load(), Bisected: v.bisected.Load(), Queued: int(v.pending.Load())}
	for i := range s.BatchSizes {
		s.BatchSizes[i] = v.sizes[i].Load()
		if i > 0 {
			s.Batches += s.BatchSizes[i]
		}
	}
	s.Singles = s.BatchSizes[0]
	return s
}

// single verifies one signature alone, on the caller's goroutine.
func (v *Verifier) single(key PublicKey, msg, sig []byte) bool {
	v.signatures.Add(1)
	v.sizes[0].Add(1)
	ok := key.Verify(msg, sig)
	if ek, batchable := key.(edwardsKeyed); !ok && batchable {
		v.suspect(ek.EdwardsKey())
	}
	return ok
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
