package signing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkVerifierCityStream: 256 concurrent callers (connections) verify a
// city stream of 1000 devices through the Verifier, against the same callers
// verifying directly; "poisoned" makes 1% of the signatures invalid, all from
// one key. ns/sig is wall time per signature over all callers.
func BenchmarkVerifierCityStream(b *testing.B) {
	const devices, callers = 1000, 256
	keys := make([]PrivateKey, devices)
	for i := range keys {
		keys[i] = mustKey(b, AlgEd25519)
	}
	type item struct {
		key      PublicKey
		msg, sig []byte
	}
	stream := func(poison bool) []item {
		var out []item
		for j := range 20 {
			for i, k := range keys {
				if poison && len(out)%100 == 0 {
					k = keys[0] // 1% of the stream: bad signatures, all from one key
				}
				msg := fmt.Appendf(nil, "city/z1/d-%04d/tele/x seq %d", i, j)
				sig, _ := k.Sign(msg)
				if poison && len(out)%100 == 0 {
					sig[0] ^= 1
				}
				out = append(out, item{k.Public(), msg, sig})
			}
		}
		return out
	}
	for _, mode := range []string{"direct", "verifier", "verifier-poisoned"} {
		items := stream(mode == "verifier-poisoned")
		b.Run(mode, func(b *testing.B) {
			v := NewVerifier(VerifierConfig{})
			defer v.Close()
			var next atomic.Int64
			total := int64(b.N)
			var wg sync.WaitGroup
			b.ResetTimer()
			for range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n := next.Add(1) - 1
						if n >= total {
							return
						}
						it := items[n%int64(len(items))]
						if mode == "direct" {
							it.key.Verify(it.msg, it.sig)
						} else if _, err := v.Verify(context.Background(), it.key, it.msg, it.sig); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sig")
			if mode != "direct" {
				s := v.Stats()
				b.ReportMetric(float64(s.Signatures-s.Singles)/float64(max(s.Batches, 1)), "sigs/batch")
				b.ReportMetric(float64(s.Bisected), "bisected")
				b.ReportMetric(float64(s.Singles), "singles")
			}
		})
	}
}

// BenchmarkVerifierClosedLoop: 200 callers, each waiting for a round trip
// through another goroutine (its connection's acknowledgement and the
// device's next message) between its verifications, as a broker's readers
// do. A caller that finds no batch being verified leads one; "singles/sig"
// is the share of signatures that were verified alone, at a single
// verification's full cost, because nobody else had joined yet.
func BenchmarkVerifierClosedLoop(b *testing.B) {
	const devices, callers = 200, 200
	type item struct {
		key      PublicKey
		msg, sig []byte
	}
	items := make([]item, devices)
	for i := range items {
		k := mustKey(b, AlgEd25519)
		msg := fmt.Appendf(nil, "city/z1/d-%04d/tele/x", i)
		sig, _ := k.Sign(msg)
		items[i] = item{k.Public(), msg, sig}
	}
	v := NewVerifier(VerifierConfig{})
	defer v.Close()
	var next atomic.Int64
	total := int64(b.N)
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := range callers {
		wg.Add(1)
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() { // the other end of the connection
			for range ping {
				pong <- struct{}{}
			}
		}()
		go func() {
			defer wg.Done()
			defer close(ping)
			it := items[c%devices]
			for next.Add(1) <= total {
				if _, err := v.Verify(context.Background(), it.key, it.msg, it.sig); err != nil {
					b.Error(err)
					return
				}
				ping <- struct{}{}
				<-pong
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sig")
	s := v.Stats()
	b.ReportMetric(float64(s.Signatures-s.Singles)/float64(max(s.Batches, 1)), "sigs/batch")
	b.ReportMetric(float64(s.Singles)/float64(max(s.Signatures, 1)), "singles/sig")
}
