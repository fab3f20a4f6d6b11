package edbatch

import (
	"crypto/sha512"
	"testing"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// BenchmarkAddParts splits a batch entry's work outside the multiscalar
// multiplication (Batch.Add) into its parts, per signature of the city
// stream: R's decompression (one square root: Pow22523, an exponentiation
// by (p-5)/8, itself shown as "pow22523"), the byte-level canonical check,
// the challenge's SHA-512 and reduction, and the whole Add.
func BenchmarkAddParts(b *testing.B) {
	keys, idx, msgs, sigs := cityStream(b, 1000, 2)
	n := len(msgs)
	b.Run("add", func(b *testing.B) {
		var bt Batch
		j := 0
		for b.Loop() {
			if j == 0 {
				bt.Reset()
			}
			bt.Add(keys[idx[j]].pk, msgs[j], sigs[j])
			j = (j + 1) % n
		}
	})
	b.Run("decodeR", func(b *testing.B) {
		var r edwards25519.Point
		j := 0
		for b.Loop() {
			if !decodeR(&r, sigs[j][:32]) {
				b.Fatal("R refused")
			}
			j = (j + 1) % n
		}
	})
	b.Run("canonical", func(b *testing.B) {
		j := 0
		for b.Loop() {
			if !canonical(sigs[j][:32]) {
				b.Fatal("R refused")
			}
			j = (j + 1) % n
		}
	})
	b.Run("pow22523", func(b *testing.B) {
		var x, y field.Element
		if _, err := x.SetBytes(sigs[0][:32]); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			y.Pow22523(&x)
		}
	})
	b.Run("challenge", func(b *testing.B) {
		h := sha512.New()
		var k edwards25519.Scalar
		var digest [64]byte
		j := 0
		for b.Loop() {
			challengeInto(&k, h, &digest, sigs[j][:32], keys[idx[j]].pk.raw[:], msgs[j])
			j = (j + 1) % n
		}
	})
}
