package edbatch

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/hdevalence/ed25519consensus"
)

// cityStream is n devices × m messages, interleaved: the shape of traffic
// at a city edge, where keys recur.
func cityStream(b *testing.B, devices, perDevice int) (keys []signer, idx []int, msgs, sigs [][]byte) {
	keys = signers(b, devices)
	for j := range perDevice {
		for i := range keys {
			msg := fmt.Appendf(nil, `["Signature1",h'a3012604...',"city/z1/d-%04d/tele/x",{"seq":%d,"v":12.5}]`, i, j)
			idx = append(idx, i)
			msgs = append(msgs, msg)
			sigs = append(sigs, ed25519.Sign(keys[i].priv, msg))
		}
	}
	return
}

// BenchmarkCityStream reports ns per signature for the three verifiers on the
// same stream (1000 devices × 20 messages), in batches of size n.
func BenchmarkCityStream(b *testing.B) {
	keys, idx, msgs, sigs := cityStream(b, 1000, 20)
	total := len(msgs)
	b.Run("stdlib", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			j := i % total
			ed25519.Verify(keys[idx[j]].priv.Public().(ed25519.PublicKey), msgs[j], sigs[j])
		}
	})
	for _, n := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("consensus/batch=%d", n), func(b *testing.B) {
			for b.Loop() {
				for off := 0; off+n <= total; off += n {
					bv := ed25519consensus.NewPreallocatedBatchVerifier(n)
					for j := off; j < off+n; j++ {
						bv.Add(keys[idx[j]].priv.Public().(ed25519.PublicKey), msgs[j], sigs[j])
					}
					if !bv.Verify() {
						b.Fatal("batch failed")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(total/n*n)), "ns/sig")
		})
		b.Run(fmt.Sprintf("signet/batch=%d", n), func(b *testing.B) {
			var bt Batch
			for b.Loop() {
				for off := 0; off+n <= total; off += n {
					bt.Reset()
					for j := off; j < off+n; j++ {
						bt.Add(keys[idx[j]].pk, msgs[j], sigs[j])
					}
					if !bt.Verify() {
						b.Fatal("batch failed")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(total/n*n)), "ns/sig")
		})
	}
}

// BenchmarkBatchSizes reports ns per signature of a whole batch (Add and
// Verify) of a 1000-device city stream by batch size and multiscalar
// multiplication: "straus" (straus.go), "bucket" (msm.go), and "edwards",
// edwards25519's VarTimeMultiScalarMult on full-size scalars as small batches
// used before straus.go. Where straus and bucket cross sets bucketFrom, and
// the curve shows what large batches (and keys recurring inside them) buy.
func BenchmarkBatchSizes(b *testing.B) {
	keys, idx, msgs, sigs := cityStream(b, 1000, 20)
	b.Run("stdlib", func(b *testing.B) {
		pubs := make([]ed25519.PublicKey, len(keys))
		for i, k := range keys {
			pubs[i] = k.priv.Public().(ed25519.PublicKey)
		}
		j := 0
		for b.Loop() {
			if !ed25519.Verify(pubs[idx[j]], msgs[j], sigs[j]) {
				b.Fatal("invalid")
			}
			j = (j + 1) % len(msgs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sig")
	})
	for _, n := range []int{2, 4, 8, 12, 16, 20, 24, 32, 64, 128, 256, 1024, 4096} {
		for _, method := range []string{"edwards", "straus", "bucket"} {
			if method != "bucket" && n > 256 {
				continue
			}
			b.Run(fmt.Sprintf("n=%d/msm=%s", n, method), func(b *testing.B) {
				bt := Batch{bucketFrom: 1}
				if method != "bucket" {
					bt.bucketFrom = 1 << 30
				}
				var ed edwardsStraus
				off := 0
				b.ReportAllocs()
				for b.Loop() {
					if off+n > len(msgs) {
						off = 0
					}
					bt.Reset()
					for j := off; j < off+n; j++ {
						bt.Add(keys[idx[j]].pk, msgs[j], sigs[j])
					}
					ok := false
					if method == "edwards" {
						ok = ed.verify(&bt)
					} else {
						ok = bt.Verify()
					}
					if !ok {
						b.Fatal("batch failed")
					}
					off += n
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
			})
		}
	}
}

// BenchmarkVerifyEachOneBad reports ns per signature of VerifyEach (Add
// included) on batches of the city stream with one bad signature each (a
// valid signature over another message, at a position that moves from batch
// to batch): the bisection that singleBelow ends.
func BenchmarkVerifyEachOneBad(b *testing.B) {
	keys, idx, msgs, sigs := cityStream(b, 1000, 20)
	for _, n := range []int{8, 16, 64, 256} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var bt Batch
			out := make([]bool, n)
			off, batch := 0, 0
			for b.Loop() {
				if off+n > len(msgs) {
					off = 0
				}
				bad := off + batch%n
				bt.Reset()
				for j := off; j < off+n; j++ {
					msg := msgs[j]
					if j == bad {
						msg = msgs[(j+1)%len(msgs)]
					}
					bt.Add(keys[idx[j]].pk, msg, sigs[j])
				}
				bt.VerifyEach(out)
				for j, ok := range out {
					if ok != (off+j != bad) {
						b.Fatalf("entry %d of a batch with entry %d bad: %v", j, bad-off, ok)
					}
				}
				off += n
				batch++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
}
