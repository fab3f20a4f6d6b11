package edbatch

import (
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
)

// randomScalar returns a uniformly random scalar, or one below 2^128.
func randomScalar(rng *rand.ChaCha8, short bool) *edwards25519.Scalar {
	var wide [64]byte
	rng.Read(wide[:])
	if short {
		var b [32]byte
		copy(b[:16], wide[:16])
		s, _ := edwards25519.NewScalar().SetCanonicalBytes(b[:])
		return s
	}
	s, _ := edwards25519.NewScalar().SetUniformBytes(wide[:])
	return s
}

// TestBucketMSMAgreesWithStraus: the bucket method, with full-size scalars
// split into 128-bit halves on P and [2^128]P as Batch does, equals
// edwards25519's VarTimeMultiScalarMult on random points (some with a torsion component, so
// the check is not only in the prime-order subgroup) and scalars, at sizes
// that pick every window width from small to large, with edge scalars 0, 1,
// L−1 and all-ones 128-bit values.
func TestBucketMSMAgreesWithStraus(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{7})
	torsion, one, ones128, lMinus1 := edgeCases(t)
	var m msm
	for _, n := range []struct{ short, long int }{{0, 1}, {1, 1}, {3, 2}, {20, 5}, {64, 40}, {300, 200}, {1100, 30}} {
		var scalars []*edwards25519.Scalar
		var points []*edwards25519.Point
		var terms []term
		add := func(s *edwards25519.Scalar, isShort bool, i int) {
			p := new(edwards25519.Point).ScalarBaseMult(randomScalar(rng, false))
			if i%3 == 0 {
				p.Add(p, torsion)
			}
			switch i % 7 {
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
			}
			a := new(affine)
			a.setPoint(p)
			if isShort {
				terms = append(terms, term{p: a, scalar: [32]byte(s.Bytes())})
			} else { // full size: split on P and [2^128]P, as Batch does
				a128 := new(affine)
				a128.setPoint(times2To128(p))
				terms = appendSplit(terms, a, a128, s)
			}
			scalars = append(scalars, s)
			points = append(points, p)
		}
		for i := range n.short {
			add(randomScalar(rng, true), true, i)
		}
		for i := range n.long {
			add(randomScalar(rng, false), false, i)
		}
		want := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
		var got extended
		m.sum(&got, terms)
		gotPoint, err := new(edwards25519.Point).SetExtendedCoordinates(&got.X, &got.Y, &got.Z, &got.T)
		if err != nil {
			t.Fatalf("%v: result off the curve: %v", n, err)
		}
		if gotPoint.Equal(want) != 1 {
			t.Fatalf("%d short + %d long terms (c=%d): bucket method disagrees with Straus", n.short, n.long, windowBits(len(terms)))
		}
	}
}

// TestRecode: the signed digits of random and edge scalars are in range and
// sum back to the scalar, for every window width.
func TestRecode(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{9})
	for c := 2; c <= 16; c++ {
		for trial := range 50 {
			s := randomScalar(rng, trial%2 == 0)
			if trial == 1 {
				s, _ = edwards25519.NewScalar().SetCanonicalBytes(mustHex("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))
			}
			enc := [32]byte(s.Bytes())
			nwin := (253 + 1 + c - 1) / c // recode itself works at any length
			digits := make([]int16, nwin)
			recode(digits, 0, 1, &enc, c, nwin)
			// Σ dᵢ·2^(ci) evaluated as a scalar.
			acc := edwards25519.NewScalar()
			var radix [32]byte
			radix[c/8] = 1 << (c % 8)
			r, _ := edwards25519.NewScalar().SetCanonicalBytes(radix[:])
			for w := nwin - 1; w >= 0; w-- {
				d := int(digits[w])
				if d > 1<<(c-1) || d <= -(1<<(c-1)) {
					t.Fatalf("c=%d: digit %d out of range", c, d)
				}
				var db [32]byte
				db[0], db[1] = byte(abs(d)), byte(abs(d)>>8)
				ds, _ := edwards25519.NewScalar().SetCanonicalBytes(db[:])
				if d < 0 {
					ds.Negate(ds)
				}
				acc.MultiplyAdd(acc, r, ds)
			}
			if acc.Equal(s) != 1 {
				t.Fatalf("c=%d trial %d: digits do not sum to the scalar", c, trial)
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
