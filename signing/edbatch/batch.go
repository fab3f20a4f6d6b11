package edbatch

import (
	"crypto/rand"
	"crypto/sha512"
	"hash"

	"filippo.io/edwards25519"
)

// Batch verifies many signatures at once with the cofactored batch equation
// of SPEC §3:
//
//	[8]( Σ zᵢRᵢ + Σ_A (Σ_{i∈A} zᵢkᵢ) A − (Σ zᵢSᵢ) B ) = 0
//
// with fresh 128-bit random zᵢ per batch. Terms of the same key are merged
// into one (city traffic repeats keys), so a batch of n signatures from m
// keys is one multiscalar multiplication of n + m + 1 terms. Large batches
// use the bucket method (msm.go), with each full-size scalar of A and B split
// into two 128-bit halves on A and [2^128]A (decoded once per key), so that
// every scalar is short; small ones use Straus (straus.go) on the same
// short terms. Because
// the single check is cofactored too, a batch accepts exactly what single
// verification of each entry accepts (except with probability 2⁻¹²⁸).
//
// A Batch is reusable (Reset) and not safe for concurrent use.
type Batch struct {
	entries []entry
	h       hash.Hash // SHA-512 state reused for the challenges
	digest  [64]byte  // the challenge's hash, here so that it does not escape per entry

	// scratch reused across verifications, so that a warm Batch allocates
	// nothing
	idx     []int
	rnd     []byte
	short   []term
	keySum  []keySum
	keyTerm map[*PublicKey]int // index in keySum
	bucket  msm
	straus  strausMSM

	// bucketFrom overrides the package's bucketFrom when > 0 (benchmarks).
	bucketFrom int
}

type entry struct {
	pk    *PublicKey
	r     edwards25519.Point // R, for single verification
	ra    affine             // R, for the bucket method
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
	if b.h == nil {
		b.h = sha512.New()
	}
	challengeInto(&e.k, b.h, &b.digest, sig[:32], pk.raw[:], message)
	e.ra.setPoint(&e.r)
	e.valid = true
}

// Verify reports whether every entry is valid.
func (b *Batch) Verify() bool {
	return b.verify(b.all())
}

// VerifyEach sets out[i] to the validity of entry i (len(out) ≥ Len()). A
// failing batch is split in halves until the bad entries are found, so the
// honest entries of a batch with one bad signature still pass at batch speed.
func (b *Batch) VerifyEach(out []bool) {
	b.verifyEach(b.all(), out)
}

// all returns the indices of every entry, in the Batch's scratch.
func (b *Batch) all() []int {
	b.idx = grow(b.idx, len(b.entries))
	for i := range b.idx {
		b.idx[i] = i
	}
	return b.idx
}

// singleBelow is the group size under which single verification is cheaper
// than another level of bisection. 2 is slower and 8 no faster, by
// `go test ./signing/edbatch -run '^$' -bench VerifyEachOneBad`, each value
// built into its own test binary and the binaries run in turn.
const singleBelow = 4

// bucketFrom is the batch size from which the bucket method is at least as
// fast as Straus; both allocate nothing. `go test ./signing/edbatch -run '^$'
// -bench 'BatchSizes/^n=(16|20|24|32)$/^msm=(straus|bucket)$' -count 6`
// on the 2-core machine, compared with benchstat -col /msm: Straus is ahead
// at 16, the two are level at 20 and 24, the bucket method ahead at 32.
const bucketFrom = 24

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

// prepare draws the batch's coefficients over the entries in idx and
// returns −Σ zᵢSᵢ, unless the verdict needs no equation (done): true for no
// entries, false if one did not decode.
func (b *Batch) prepare(idx []int) (negSumS edwards25519.Scalar, done, ok bool) {
	if len(idx) == 0 {
		return negSumS, true, true
	}
	for _, i := range idx {
		if !b.entries[i].valid {
			return negSumS, true, false
		}
	}
	return b.combine(idx), false, false
}

// verify checks the batch equation over the entries in idx.
func (b *Batch) verify(idx []int) bool {
	negSumS, done, ok := b.prepare(idx)
	if done {
		return ok
	}
	// Each full-size scalar splits into two 128-bit halves on A and [2^128]A.
	for i := range b.keySum {
		ks := &b.keySum[i]
		b.short = appendSplit(b.short, &ks.pk.a, &ks.pk.a128, &ks.s)
	}
	from := bucketFrom
	if b.bucketFrom > 0 {
		from = b.bucketFrom
	}
	var check extended
	if len(idx) < from {
		b.straus.sum(&check, b.short, &negSumS)
	} else {
		b.short = appendSplit(b.short, basePoint, base128, &negSumS)
		b.bucket.sum(&check, b.short)
	}
	check.double() // × 8, the cofactor
	check.double()
	check.double()
	return check.isIdentity()
}

// combine draws the zᵢ of the entries in idx and leaves in b.short their
// terms zᵢRᵢ and in b.keySum each key's merged scalar; it returns the base
// point's scalar −Σ zᵢSᵢ.
func (b *Batch) combine(idx []int) edwards25519.Scalar {
	// zᵢ: 128 random bits each (SPEC §3), read at once; < L so canonical.
	b.rnd = grow(b.rnd, 16*len(idx))
	if _, err := rand.Read(b.rnd); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	b.short = b.short[:0]
	b.keySum = b.keySum[:0]
	if b.keyTerm == nil {
		b.keyTerm = map[*PublicKey]int{}
	}
	clear(b.keyTerm)
	var sumS, z, zk edwards25519.Scalar
	var zb [32]byte
	for n, i := range idx {
		e := &b.entries[i]
		copy(zb[:16], b.rnd[16*n:])
		if _, err := z.SetCanonicalBytes(zb[:]); err != nil {
			panic(err) // < 2^128 < L
		}
		b.short = append(b.short, term{p: &e.ra, scalar: zb})
		sumS.MultiplyAdd(&z, &e.s, &sumS)
		zk.Multiply(&z, &e.k)
		if t, ok := b.keyTerm[e.pk]; ok {
			b.keySum[t].s.Add(&b.keySum[t].s, &zk)
		} else {
			b.keyTerm[e.pk] = len(b.keySum)
			b.keySum = append(b.keySum, keySum{pk: e.pk, s: zk})
		}
	}
	sumS.Negate(&sumS)
	return sumS
}

// keySum is one key's merged scalar Σ_{i∈A} zᵢkᵢ.
type keySum struct {
	pk *PublicKey
	s  edwards25519.Scalar
}

// appendSplit appends s·P as lo·p + hi·p128, with s = lo + 2^128·hi and p128
// = [2^128]P.
func appendSplit(terms []term, p, p128 *affine, s *edwards25519.Scalar) []term {
	enc := s.Bytes()
	var lo, hi [32]byte
	copy(lo[:16], enc[:16])
	copy(hi[:16], enc[16:])
	return append(terms, term{p: p, scalar: lo}, term{p: p128, scalar: hi})
}

// basePoint and base128 are B and [2^128]B in the bucket method's form.
var basePoint, base128 = func() (*affine, *affine) {
	var b, b128 affine
	b.setPoint(edwards25519.NewGeneratorPoint())
	b128.setPoint(times2To128(edwards25519.NewGeneratorPoint()))
	return &b, &b128
}()
