package bench

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hdevalence/ed25519consensus"

	"github.com/signet-city/signet/signing"
	"github.com/signet-city/signet/signing/edbatch"
)

// VerifyOptions sizes the verify benchmark.
type VerifyOptions struct {
	Devices  int // distinct keys (1000)
	Messages int // messages per device (20)
	Batch    int // batch size for the batch verifiers (64)
	Reps     int // repetitions; medians are reported (3)
	Progress func(step string)
}

// VerifyReport holds ns per signature for each verifier on one city stream,
// measured in one run, and their ratios.
type VerifyReport struct {
	Signatures         int     `json:"signatures"`
	StdNsPerSig        float64 `json:"std_ns_per_sig"`        // crypto/ed25519.Verify, one core
	ConsensusNsPerSig  float64 `json:"consensus_ns_per_sig"`  // ed25519consensus batches, one core
	SignetNsPerSig     float64 `json:"signet_ns_per_sig"`     // edbatch batches, one core
	RatioVsStd         float64 `json:"ratio_vs_std"`          // signet / std
	RatioVsConsensus   float64 `json:"ratio_vs_consensus"`    // signet / consensus
	VerifierNsPerSig   float64 `json:"verifier_ns_per_sig"`   // signing.Verifier, 256 callers, all cores (wall)
	DirectNsPerSig     float64 `json:"direct_ns_per_sig"`     // same callers verifying directly (wall)
	PoisonedNsPerSig   float64 `json:"poisoned_ns_per_sig"`   // Verifier, 1% bad signatures from one key
	PoisonedRatio      float64 `json:"poisoned_ratio"`        // clean / poisoned throughput ratio (≥ 0.8 wanted)
	VerifierRatioVsStd float64 `json:"verifier_ratio_vs_std"` // verifier / direct, same callers
}

type signed struct {
	pub      ed25519.PublicKey
	key      signing.PublicKey
	ek       *edbatch.PublicKey
	msg, sig []byte
}

// cityStream signs devices × messages, interleaved by device.
func cityStream(devices, messages int, poison bool) ([]signed, error) {
	keys := make([]signing.PrivateKey, devices)
	for i := range keys {
		k, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	var out []signed
	for j := range messages {
		for i := range keys {
			k := keys[i]
			bad := poison && len(out)%100 == 0
			if bad {
				k = keys[0]
			}
			msg := fmt.Appendf(nil, `city/z1/d-%04d/tele/air {"seq":%d,"pm25":12.5,"no2":31.0,"temp_c":14.2}`, i, j)
			sig, err := k.Sign(msg)
			if err != nil {
				return nil, err
			}
			if bad {
				sig[0] ^= 1
			}
			pub := k.Public()
			out = append(out, signed{pub: pub.Bytes(), key: pub, ek: pub.(*signing.Ed25519PublicKey).EdwardsKey(), msg: msg, sig: sig})
		}
	}
	return out, nil
}

// VerifyFigures measures every verifier on the same stream.
func VerifyFigures(ctx context.Context, o VerifyOptions) (VerifyReport, error) {
	if o.Devices <= 0 {
		o.Devices = 1000
	}
	if o.Messages <= 0 {
		o.Messages = 20
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.Reps <= 0 {
		o.Reps = 3
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
	n := len(clean)
	usable := n / o.Batch * o.Batch
	measure := func(name string, sigs int, f func() error) (float64, error) {
		var runs []float64
		for r := range o.Reps {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			progress(fmt.Sprintf("%s (%d/%d)", name, r+1, o.Reps))
			start := time.Now()
			if err := f(); err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			runs = append(runs, float64(time.Since(start).Nanoseconds())/float64(sigs))
		}
		slices.Sort(runs)
		return runs[len(runs)/2], nil
	}
	rep := VerifyReport{Signatures: n}
	if rep.StdNsPerSig, err = measure("crypto/ed25519", n, func() error {
		for _, s := range clean {
			if !ed25519.Verify(s.pub, s.msg, s.sig) {
				return fmt.Errorf("valid signature refused")
			}
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if rep.ConsensusNsPerSig, err = measure("ed25519consensus", usable, func() error {
		for off := 0; off < usable; off += o.Batch {
			bv := ed25519consensus.NewPreallocatedBatchVerifier(o.Batch)
			for _, s := range clean[off : off+o.Batch] {
				bv.Add(s.pub, s.msg, s.sig)
			}
			if !bv.Verify() {
				return fmt.Errorf("valid batch refused")
			}
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if rep.SignetNsPerSig, err = measure("signet edbatch", usable, func() error {
		var b edbatch.Batch
		for off := 0; off < usable; off += o.Batch {
			b.Reset()
			for _, s := range clean[off : off+o.Batch] {
				b.Add(s.ek, s.msg, s.sig)
			}
			if !b.Verify() {
				return fmt.Errorf("valid batch refused")
			}
		}
		return nil
	}); err != nil {
		return rep, err
	}
	concurrent := func(stream []signed, direct bool) func() error {
		return func() error {
			v := signing.NewVerifier(signing.VerifierConfig{MaxBatch: o.Batch})
			defer v.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			var failed atomic.Value
			for range 256 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(len(stream)) {
							return
						}
						s := stream[i]
						if direct {
							s.key.Verify(s.msg, s.sig)
						} else if _, err := v.Verify(ctx, s.key, s.msg, s.sig); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err, ok := failed.Load().(error); ok {
				return err
			}
			return nil
		}
	}
	if rep.DirectNsPerSig, err = measure("direct, 256 callers", n, concurrent(clean, true)); err != nil {
		return rep, err
	}
	if rep.VerifierNsPerSig, err = measure("signing.Verifier, 256 callers", n, concurrent(clean, false)); err != nil {
		return rep, err
	}
	if rep.PoisonedNsPerSig, err = measure("signing.Verifier, 1% poisoned", n, concurrent(poisoned, false)); err != nil {
		return rep, err
	}
	rep.RatioVsStd = rep.SignetNsPerSig / rep.StdNsPerSig
	rep.RatioVsConsensus = rep.SignetNsPerSig / rep.ConsensusNsPerSig
	rep.PoisonedRatio = rep.VerifierNsPerSig / rep.PoisonedNsPerSig
	rep.VerifierRatioVsStd = rep.VerifierNsPerSig / rep.DirectNsPerSig
	return rep, nil
}
