package bench

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hdevalence/ed25519consensus"

	"github.com/signet-city/signet/signing"
	"github.com/signet-city/signet/signing/edbatch"
)

// VerifyOptions sizes the verify benchmark. The zero value is the issue's
// city stream: 1000 devices × 20 messages in mixed order.
type VerifyOptions struct {
	Devices  int   // distinct keys (1000)
	Messages int   // messages per device (20)
	Batch    int   // batch size of the headline one-core figures (1024)
	Sweep    []int // further batch sizes to report (64, 256, 4096)
	Callers  int   // concurrent callers of the Verifier figures (256)
	Reps     int   // interleaved repetitions; medians are reported (5)
	Progress func(step string)
}

// VerifyReport holds the figures of one run. ns/sig figures are CPU time
// (threadcpu.go), medians over the repetitions; ratios are medians of the per-repetition ratios, each
// taken between measurements made back to back, so that load from other
// processes cancels out as far as it can.
type VerifyReport struct {
	Signatures int `json:"signatures"`
	Devices    int `json:"devices"`
	Batch      int `json:"batch"`

	StdNsPerSig       float64 `json:"std_ns_per_sig"`       // crypto/ed25519.Verify, one core
	ConsensusNsPerSig float64 `json:"consensus_ns_per_sig"` // ed25519consensus, same batches, one core
	SignetNsPerSig    float64 `json:"signet_ns_per_sig"`    // edbatch, same batches, one core
	RatioVsStd        float64 `json:"ratio_vs_std"`         // signet / std (target ≤ 0.25)
	RatioVsConsensus  float64 `json:"ratio_vs_consensus"`   // signet / consensus (target < 1)

	Sweep []SweepPoint `json:"sweep"` // the same by batch size

	DirectNsPerSig        float64 `json:"direct_ns_per_sig"`        // Callers verifying directly (process CPU)
	VerifierNsPerSig      float64 `json:"verifier_ns_per_sig"`      // the same callers through signing.Verifier (process CPU)
	VerifierRatioVsDirect float64 `json:"verifier_ratio_vs_direct"` // verifier / direct
	VerifierMeanBatch     float64 `json:"verifier_mean_batch"`      // signatures per Ed25519 batch the Verifier formed
	// VerifierRatioVsBatchCost is the Verifier's CPU per signature over one
	// core's edbatch cost at the Verifier's own mean batch, measured in the
	// same repetition: what the hand-offs and wake-ups add (target ≤ 1.25).
	VerifierRatioVsBatchCost float64 `json:"verifier_ratio_vs_batch_cost"`
	PoisonedNsPerSig         float64 `json:"poisoned_ns_per_sig"` // Verifier, 1% bad signatures from one key (process CPU)
	PoisonedRatio            float64 `json:"poisoned_ratio"`      // honest throughput poisoned / clean (target ≥ 0.9)
}

// SweepPoint is one batch size of the sweep.
type SweepPoint struct {
	Batch             int     `json:"batch"`
	ConsensusNsPerSig float64 `json:"consensus_ns_per_sig"`
	SignetNsPerSig    float64 `json:"signet_ns_per_sig"`
	RatioVsStd        float64 `json:"ratio_vs_std"`
}

type signed struct {
	pub      ed25519.PublicKey
	key      signing.PublicKey
	ek       *edbatch.PublicKey
	msg, sig []byte
	honest   bool
}

// cityStream signs devices × messages and shuffles them (a fixed seed, so
// runs compare). With poison, every 100th message is replaced by a bad
// signature under device 0's key: one hostile sender, 1% of the stream.
func cityStream(devices, messages int, poison bool) ([]signed, error) {
	keys := make([]signing.PrivateKey, devices)
	for i := range keys {
		k, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	out := make([]signed, 0, devices*messages)
	for j := range messages {
		for i, k := range keys {
			msg := fmt.Appendf(nil, `city/z1/d-%04d/tele/air {"seq":%d,"pm25":12.5,"no2":31.0,"temp_c":14.2}`, i, j)
			sig, err := k.Sign(msg)
			if err != nil {
				return nil, err
			}
			pub := k.Public()
			out = append(out, signed{pub: pub.Bytes(), key: pub, ek: pub.(*signing.Ed25519PublicKey).EdwardsKey(), msg: msg, sig: sig, honest: true})
		}
	}
	rand.New(rand.NewPCG(2026, 11)).Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	if poison {
		k0 := keys[0].Public()
		for i := 0; i < len(out); i += 100 {
			bad := append([]byte(nil), out[i].sig...)
			bad[0] ^= 1
			out[i] = signed{pub: k0.Bytes(), key: k0, ek: k0.(*signing.Ed25519PublicKey).EdwardsKey(), msg: out[i].msg, sig: bad}
		}
	}
	return out, nil
}

// VerifyFigures measures every verifier on the same stream, interleaved.
func VerifyFigures(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	if o.Devices <= 0 {
		o.Devices = 1000
	}
	if o.Messages <= 0 {
		o.Messages = 20
	}
	if o.Batch <= 0 {
		o.Batch = 1024
	}
	if o.Sweep == nil {
		o.Sweep = []int{64, 256, 4096}
	}
	if o.Callers <= 0 {
		o.Callers = 256
	}
	if o.Reps <= 0 {
		o.Reps = 5
	}
	progress := o.Progress
	if progress == nil {
		progress = func(string) {}
	}
	progress("signing the city stream")
	clean, err := cityStream(o.Devices, o.Messages, false)
	if err != nil {
		return VerifyReport{}, err
	}
	poisoned, err := cityStream(o.Devices, o.Messages, true)
	if err != nil {
		return VerifyReport{}, err
	}
	sizes := append([]int{o.Batch}, o.Sweep...)
	n := len(clean)
	rep := VerifyReport{Signatures: n, Devices: o.Devices, Batch: o.Batch}

	// One core: every verifier in turn, Reps times.
	std := make([]float64, 0, o.Reps)
	cons := make([][]float64, len(sizes))
	ours := make([][]float64, len(sizes))
	ratios := make([][]float64, len(sizes))
	consRatios := make([]float64, 0, o.Reps)
	for r := range o.Reps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		progress(fmt.Sprintf("one core, repetition %d/%d", r+1, o.Reps))
		s, err := timePerSig(n, func() error { return verifyStd(clean) })
		if err != nil {
			return rep, err
		}
		std = append(std, s)
		for i, size := range sizes {
			c, err := timePerSig(n/size*size, func() error { return verifyConsensus(clean, size) })
			if err != nil {
				return rep, err
			}
			e, err := timePerSig(n/size*size, func() error { return verifyEdbatch(clean, size) })
			if err != nil {
				return rep, err
			}
			cons[i] = append(cons[i], c)
			ours[i] = append(ours[i], e)
			ratios[i] = append(ratios[i], e/s)
			if i == 0 {
				consRatios = append(consRatios, e/c)
			}
		}
	}
	rep.StdNsPerSig = median(std)
	rep.ConsensusNsPerSig, rep.SignetNsPerSig = median(cons[0]), median(ours[0])
	rep.RatioVsStd, rep.RatioVsConsensus = median(ratios[0]), median(consRatios)
	for i, size := range sizes {
		rep.Sweep = append(rep.Sweep, SweepPoint{Batch: size, ConsensusNsPerSig: median(cons[i]), SignetNsPerSig: median(ours[i]), RatioVsStd: median(ratios[i])})
	}
	slices.SortFunc(rep.Sweep, func(a, b SweepPoint) int { return a.Batch - b.Batch })
	rep.Sweep = slices.CompactFunc(rep.Sweep, func(a, b SweepPoint) bool { return a.Batch == b.Batch })

	// All cores: Callers goroutines (as connections), direct or through the
	// Verifier, clean and poisoned, in turn.
	var direct, verifier, poison, vsDirect, honest, batches, vsBatch []float64
	for r := range o.Reps {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		progress(fmt.Sprintf("concurrent callers, repetition %d/%d", r+1, o.Reps))
		d, _, err := concurrentRun(ctx, clean, o.Callers, nil)
		if err != nil {
			return rep, err
		}
		v, st, err := concurrentRun(ctx, clean, o.Callers, &signing.VerifierConfig{})
		if err != nil {
			return rep, err
		}
		p, _, err := concurrentRun(ctx, poisoned, o.Callers, &signing.VerifierConfig{})
		if err != nil {
			return rep, err
		}
		direct, verifier, poison = append(direct, d), append(verifier, v), append(poison, p)
		vsDirect = append(vsDirect, v/d)
		// Honest signatures per second, poisoned over clean.
		honestShare := float64(countHonest(poisoned)) / float64(n)
		honest = append(honest, honestShare*v/p)
		if st.Batches > 0 {
			mean := float64(st.Signatures-st.Singles) / float64(st.Batches)
			batches = append(batches, mean)
			size := max(2, int(math.Round(mean)))
			c, err := timePerSig(n/size*size, func() error { return verifyEdbatch(clean, size) })
			if err != nil {
				return rep, err
			}
			vsBatch = append(vsBatch, v/c)
		}
	}
	rep.DirectNsPerSig, rep.VerifierNsPerSig, rep.PoisonedNsPerSig = median(direct), median(verifier), median(poison)
	rep.VerifierRatioVsDirect, rep.PoisonedRatio = median(vsDirect), median(honest)
	if len(batches) > 0 {
		rep.VerifierMeanBatch, rep.VerifierRatioVsBatchCost = median(batches), median(vsBatch)
	}
	return rep, nil
}

func countHonest(stream []signed) int {
	n := 0
	for _, s := range stream {
		if s.honest {
			n++
		}
	}
	return n
}

// timePerSig runs f once on one thread and returns its CPU time per
// signature in ns.
func timePerSig(sigs int, f func() error) (float64, error) {
	d, err := onOneThread(f)
	if err != nil {
		return 0, err
	}
	return float64(d.Nanoseconds()) / float64(sigs), nil
}

var errRefused = errors.New("a valid signature was refused")

func verifyStd(stream []signed) error {
	for _, s := range stream {
		if !ed25519.Verify(s.pub, s.msg, s.sig) {
			return fmt.Errorf("crypto/ed25519: %w", errRefused)
		}
	}
	return nil
}

func verifyConsensus(stream []signed, size int) error {
	for off := 0; off+size <= len(stream); off += size {
		bv := ed25519consensus.NewPreallocatedBatchVerifier(size)
		for _, s := range stream[off : off+size] {
			bv.Add(s.pub, s.msg, s.sig)
		}
		if !bv.Verify() {
			return fmt.Errorf("ed25519consensus, batch of %d: %w", size, errRefused)
		}
	}
	return nil
}

func verifyEdbatch(stream []signed, size int) error {
	var b edbatch.Batch
	for off := 0; off+size <= len(stream); off += size {
		b.Reset()
		for _, s := range stream[off : off+size] {
			b.Add(s.ek, s.msg, s.sig)
		}
		if !b.Verify() {
			return fmt.Errorf("signet edbatch, batch of %d: %w", size, errRefused)
		}
	}
	return nil
}

// verifyEdbatchSingly verifies each signature alone, as signing.Verifier
// does a request it does not batch (edbatch.Verify).
func verifyEdbatchSingly(stream []signed) error {
	for _, s := range stream {
		if !edbatch.Verify(s.ek, s.msg, s.sig) {
			return fmt.Errorf("signet edbatch, alone: %w", errRefused)
		}
	}
	return nil
}

// concurrentRun verifies the stream from callers goroutines, directly (cfg
// nil) or through a Verifier, checks every verdict, and returns the
// process's CPU ns per signature (all threads: what a loaded broker pays)
// and the Verifier's counters.
func concurrentRun(ctx context.Context, stream []signed, callers int, cfg *signing.VerifierConfig) (float64, signing.VerifierStats, error) {
	var v *signing.Verifier
	if cfg != nil {
		v = signing.NewVerifier(*cfg)
		defer v.Close()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := processCPU()
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(stream)) {
					return
				}
				s := stream[i]
				var ok bool
				if v == nil {
					ok = s.key.Verify(s.msg, s.sig)
				} else {
					var err error
					if ok, err = v.Verify(ctx, s.key, s.msg, s.sig); err != nil {
						failed.Store(err)
						return
					}
				}
				if ok != s.honest {
					failed.Store(fmt.Errorf("message %d: verdict %v, want %v", i, ok, s.honest))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := processCPU() - start
	if err, ok := failed.Load().(error); ok {
		return 0, signing.VerifierStats{}, err
	}
	var st signing.VerifierStats
	if v != nil {
		st = v.Stats()
	}
	return float64(elapsed.Nanoseconds()) / float64(len(stream)), st, nil
}

// median returns the median of xs (xs is sorted in place).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
