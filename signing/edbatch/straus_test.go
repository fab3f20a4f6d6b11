package edbatch

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// TestStrausMSMAgreesWithEdwards: Straus over the bucket method's short
// terms (full-size scalars split on P and [2^128]P, as Batch does), plus a
// full-size base point scalar, equals edwards25519's VarTimeMultiScalarMult
// at every size from 0 to 64 terms, on random points (a third with a torsion
// component, so the check is not only in the prime-order subgroup), the
// identity, and edge scalars 0, 1, L−1 and all-ones 128-bit values.
func TestStrausMSMAgreesWithEdwards(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{11})
	torsion, one, ones128, lMinus1 := edgeCases(t)
	var m strausMSM // reused across sizes, as a Batch reuses it
	for n := range 65 {
		for round := range 3 {
			var scalars []*edwards25519.Scalar
			var points []*edwards25519.Point
			var terms []term
			for i := range n {
				isShort := i%2 == 0 // R terms are short, key terms full-size
				s := randomScalar(rng, isShort)
				p := new(edwards25519.Point).ScalarBaseMult(randomScalar(rng, false))
				if i%3 == round {
					p.Add(p, torsion)
				}
				switch (i + round) % 11 {
				case 1:
					s = edwards25519.NewScalar()
				case 2:
					s = one
				case 3:
					if isShort {
						s = ones128
					} else {
						s = lMinus1
					}
				case 4:
					p = edwards25519.NewIdentityPoint()
				case 5:
					p = new(edwards25519.Point).Set(torsion) // small order alone
				}
				a := new(affine)
				a.setPoint(p)
				if isShort {
					terms = append(terms, term{p: a, scalar: [32]byte(s.Bytes())})
				} else {
					a128 := new(affine)
					a128.setPoint(times2To128(p))
					terms = appendSplit(terms, a, a128, s)
				}
				scalars = append(scalars, s)
				points = append(points, p)
			}
			base := []*edwards25519.Scalar{randomScalar(rng, false), edwards25519.NewScalar(), lMinus1}[round]
			scalars = append(scalars, base)
			points = append(points, edwards25519.NewGeneratorPoint())
			want := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
			var got extended
			m.sum(&got, terms, base)
			gotPoint, err := new(edwards25519.Point).SetExtendedCoordinates(&got.X, &got.Y, &got.Z, &got.T)
			if err != nil {
				t.Fatalf("%d points, round %d: result off the curve: %v", n, round, err)
			}
			if gotPoint.Equal(want) != 1 {
				t.Fatalf("%d points (%d terms), round %d: Straus disagrees with edwards25519", n, len(terms), round)
			}
		}
	}
}

// TestWindowNAF: the digits of random and edge scalars below 2^128 are odd,
// in range, at least w apart, within nafLen, and sum back to the scalar, for
// every width the package could use.
func TestWindowNAF(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{12})
	edges := []string{
		"00000000000000000000000000000000",
		"01000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffff", // 2^128 − 1: the top carry
		"ffffffffffffffff0000000000000000",
		"0000000000000000ffffffffffffffff",
		"00000000000000000000000000000080", // 2^127
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	}
	for w := uint(2); w <= 8; w++ {
		for trial := range 200 {
			var enc [32]byte
			if trial < len(edges) {
				copy(enc[:16], mustHex(edges[trial]))
			} else {
				rng.Read(enc[:16])
			}
			digits := make([]int8, nafLen)
			windowNAF(digits, 0, 1, &enc, w)
			acc := edwards25519.NewScalar()
			two, _ := edwards25519.NewScalar().SetCanonicalBytes(mustHex("0200000000000000000000000000000000000000000000000000000000000000"))
			last := -1
			for pos := nafLen - 1; pos >= 0; pos-- {
				d := int(digits[pos])
				acc.Multiply(acc, two)
				if d == 0 {
					continue
				}
				if d%2 == 0 || d >= 1<<(w-1) || d <= -(1<<(w-1)) {
					t.Fatalf("w=%d %x: digit %d at %d is not odd in range", w, enc[:16], d, pos)
				}
				if last >= 0 && last-pos < int(w) {
					t.Fatalf("w=%d %x: digits at %d and %d are closer than w", w, enc[:16], last, pos)
				}
				last = pos
				var db [32]byte
				db[0] = byte(abs(d))
				ds, _ := edwards25519.NewScalar().SetCanonicalBytes(db[:])
				if d < 0 {
					ds.Negate(ds)
				}
				acc.Add(acc, ds)
			}
			want, _ := edwards25519.NewScalar().SetCanonicalBytes(enc[:])
			if acc.Equal(want) != 1 {
				t.Fatalf("w=%d %x: digits do not sum to the scalar", w, enc[:16])
			}
		}
	}
}

// TestBatchVerifyAllocatesNothing: once a Batch has verified a batch of a
// size, verifying another of that size allocates nothing, by Straus and by
// the bucket method, and neither does VerifyEach's bisection (the garbage of
// per-call tables was the broker's largest allocation).
func TestBatchVerifyAllocatesNothing(t *testing.T) {
	keys := signers(t, 64)
	for _, n := range []int{2, 4, 8, 16, 23, 64} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			msgs, sigs := make([][]byte, n), make([][]byte, n)
			for i := range n {
				msgs[i] = []byte{byte(n), byte(i)}
				sigs[i] = ed25519.Sign(keys[i].priv, msgs[i])
			}
			var b Batch
			for i := range n {
				b.Add(keys[i].pk, msgs[i], sigs[i])
			}
			ok := true
			allocs := testing.AllocsPerRun(20, func() {
				ok = ok && b.Verify()
			})
			if !ok {
				t.Fatal("an honest batch was refused")
			}
			if allocs != 0 {
				t.Fatalf("Verify allocated %v times per call after warm-up", allocs)
			}
			allocs = testing.AllocsPerRun(20, func() {
				b.Reset()
				for i := range n {
					b.Add(keys[i].pk, msgs[i], sigs[i])
				}
				ok = ok && b.Verify()
			})
			if !ok {
				t.Fatal("an honest batch was refused")
			}
			if allocs != 0 {
				t.Fatalf("Reset, Add and Verify allocated %v times per batch after warm-up", allocs)
			}
			// VerifyEach, as the signing package calls it, with one bad
			// signature so that it bisects down to single verification.
			b.Reset()
			for i := range n {
				msg := msgs[i]
				if i == n/2 {
					msg = msgs[(i+1)%n]
				}
				b.Add(keys[i].pk, msg, sigs[i])
			}
			out := make([]bool, n)
			allocs = testing.AllocsPerRun(20, func() {
				b.VerifyEach(out)
			})
			for i, got := range out {
				if got != (i != n/2) {
					t.Fatalf("VerifyEach: entry %d is %v", i, got)
				}
			}
			if allocs != 0 {
				t.Fatalf("VerifyEach of a batch with one bad signature allocated %v times after warm-up", allocs)
			}
		})
	}
}
