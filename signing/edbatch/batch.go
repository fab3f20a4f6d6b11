package edbatch

import (
	"crypto/rand"

	"filippo.io/edwards25519"
)

// Batch verifies many signatures at once with the cofactored batch equation
// of SPEC §3:
//
//	[8]( Σ zᵢRᵢ + Σ_A (Σ_{i∈A} zᵢkᵢ) A − (Σ zᵢSᵢ) B ) = 0
//
// with fresh 128-bit random zᵢ per batch. Terms of the same key are merged
// into one (city traffic repeats keys), so a batch of n signatures from m
// keys costs one multiscalar multiplication of n + m + 1 points. Because the
// single check is cofactored too, a batch accepts exactly what single
// verification of each entry accepts (except with probability 2⁻¹²⁸).
//
// A Batch is reusable (Reset) and not safe for concurrent use.
type Batch struct {
	entries []entry
	// scratch reused across verifications
	scalars []*edwards25519.Scalar
	points  []*edwards25519.Point
}

type entry struct {
	pk    *PublicKey
	r     edwards25519.Point
	s     edwards25519.Scalar
	k     edwards25519.Scalar
	valid bool // decoded: R canonical, S < L, sizes right
}

// Len is the number of entries.
func (b *Batch) Len() int { return len(b.entries) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.entries = b.entries[:0] }

// Add queues one signature. Malformed signatures (wrong size, non-canonical
// R, S ≥ L) are marked invalid at once and never enter the equation.
func (b *Batch) Add(pk *PublicKey, message, sig []byte) {
	b.entries = append(b.entries, entry{})
	e := &b.entries[len(b.entries)-1]
	e.pk = pk
	if len(sig) != SignatureSize || !decodeR(&e.r, sig[:32]) {
		return
	}
	if _, err := e.s.SetCanonicalBytes(sig[32:]); err != nil {
		return
	}
	e.k = *challenge(sig[:32], pk.raw[:], message)
	e.valid = true
}

// Verify reports whether every entry is valid.
func (b *Batch) Verify() bool {
	idx := make([]int, len(b.entries))
	for i := range idx {
		idx[i] = i
	}
	return b.verify(idx)
}

// VerifyEach sets out[i] to the validity of entry i (len(out) ≥ Len()). A
// failing batch is split in halves until the bad entries are found, so the
// honest entries of a batch with one bad signature still pass at batch speed.
func (b *Batch) VerifyEach(out []bool) {
	idx := make([]int, len(b.entries))
	for i := range idx {
		idx[i] = i
	}
	b.verifyEach(idx, out)
}

// singleBelow is the group size under which single verification is cheaper
// than another level of bisection.
const singleBelow = 4

func (b *Batch) verifyEach(idx []int, out []bool) {
	if len(idx) < singleBelow {
		for _, i := range idx {
			e := &b.entries[i]
			out[i] = e.valid && e.verifySingle()
		}
		return
	}
	if b.verify(idx) {
		for _, i := range idx {
			out[i] = true
		}
		return
	}
	half := len(idx) / 2
	b.verifyEach(idx[:half], out)
	b.verifyEach(idx[half:], out)
}

// verifySingle is Verify for a decoded entry.
func (e *entry) verifySingle() bool {
	var check edwards25519.Point
	check.VarTimeDoubleScalarBaseMult(&e.k, &e.pk.negA, &e.s)
	check.Subtract(&check, &e.r)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// verify checks the batch equation over the entries in idx.
func (b *Batch) verify(idx []int) bool {
	if len(idx) == 0 {
		return true
	}
	b.scalars, b.points = b.scalars[:0], b.points[:0]
	var sumS edwards25519.Scalar
	perKey := make(map[*PublicKey]*edwards25519.Scalar, len(idx))
	var rnd [32]byte
	for _, i := range idx {
		e := &b.entries[i]
		if !e.valid {
			return false
		}
		// zᵢ: 128 random bits (SPEC §3), < L so canonical.
		if _, err := rand.Read(rnd[:16]); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		z, _ := edwards25519.NewScalar().SetCanonicalBytes(rnd[:])
		b.scalars = append(b.scalars, z)
		b.points = append(b.points, &e.r)
		sumS.MultiplyAdd(z, &e.s, &sumS)
		zk := edwards25519.NewScalar().Multiply(z, &e.k)
		if acc, ok := perKey[e.pk]; ok {
			acc.Add(acc, zk)
		} else {
			perKey[e.pk] = zk
		}
	}
	for pk, zk := range perKey {
		b.scalars = append(b.scalars, zk)
		b.points = append(b.points, &pk.a)
	}
	b.scalars = append(b.scalars, sumS.Negate(&sumS))
	b.points = append(b.points, edwards25519.NewGeneratorPoint())
	var check edwards25519.Point
	check.VarTimeMultiScalarMult(b.scalars, b.points)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}
