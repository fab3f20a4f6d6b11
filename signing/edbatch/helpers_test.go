package edbatch

import (
	"crypto/sha512"
	"testing"

	"filippo.io/edwards25519"
)

func sha512Sum(b []byte) [64]byte { return sha512.Sum512(b) }

// edgeCases are the multiscalar tests' edge inputs: a point of order 8 (to
// add a torsion component), and the scalars 1, 2^128−1 and L−1.
func edgeCases(t *testing.T) (torsion *edwards25519.Point, one, ones128, lMinus1 *edwards25519.Scalar) {
	t.Helper()
	torsion, err := new(edwards25519.Point).SetBytes(mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
	if err != nil {
		t.Fatal(err)
	}
	scalar := func(h string) *edwards25519.Scalar {
		s, err := edwards25519.NewScalar().SetCanonicalBytes(mustHex(h))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return torsion, scalar("0100000000000000000000000000000000000000000000000000000000000000"),
		scalar("ffffffffffffffffffffffffffffffff00000000000000000000000000000000"),
		scalar("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
}
