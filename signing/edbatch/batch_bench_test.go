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
