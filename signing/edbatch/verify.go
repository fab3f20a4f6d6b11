package edbatch

import (
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Sizes of RFC 8032 §5.1 encodings.
const (
	PublicKeySize = 32
	SignatureSize = 64
)

// PublicKey is a decoded, checked Ed25519 public key. Decoding happens once;
// verification reuses the point. It is immutable and safe for concurrent use.
type PublicKey struct {
	raw  [PublicKeySize]byte
	negA edwards25519.Point // −A, so that [S]B + [k](−A) is one double-scalar mult
	// A and [2^128]A for the bucket method, decoded once per key: a scalar
	// s = lo + 2^128·hi becomes two 128-bit terms lo·A + hi·[2^128]A, so a
	// batch's multiscalar multiplication has only short scalars (msm.go).
	a, a128 affine
}

var (
	errKeySize      = errors.New("ed25519 public key must be 32 bytes")
	errKeyEncoding  = errors.New("ed25519 public key is not a valid point encoding")
	errKeyCanonical = errors.New("ed25519 public key is not canonically encoded (SPEC §3)")
	errKeySmall     = errors.New("ed25519 public key has small order (SPEC §3)")
)

// NewPublicKey decodes raw and applies the key checks of SPEC §3: the encoding
// must be canonical (y < p, and no negative zero x) and A must not be of small
// order. The returned error says which check failed.
func NewPublicKey(raw []byte) (*PublicKey, error) {
	if len(raw) != PublicKeySize {
		return nil, fmt.Errorf("%w, got %d", errKeySize, len(raw))
	}
	pk := &PublicKey{}
	copy(pk.raw[:], raw)
	var a edwards25519.Point
	if _, err := a.SetBytes(raw); err != nil {
		return nil, errKeyEncoding
	}
	if !canonical(raw) {
		return nil, errKeyCanonical
	}
	if smallOrder(&a) {
		return nil, errKeySmall
	}
	pk.negA.Negate(&a)
	pk.a.setPoint(&a)
	pk.a128.setPoint(times2To128(&a))
	return pk, nil
}

// Bytes returns the 32-byte encoding the key was made from.
func (pk *PublicKey) Bytes() []byte { return append([]byte(nil), pk.raw[:]...) }

// Verify reports whether sig is a valid signature of message under pk, with
// the cofactored equation of SPEC §3 and RFC 8032 §5.1.7 pure Ed25519
// challenge k = SHA-512(R ‖ A ‖ M) mod L.
func Verify(pk *PublicKey, message, sig []byte) bool {
	if len(sig) != SignatureSize {
		return false
	}
	var r edwards25519.Point
	if !decodeR(&r, sig[:32]) {
		return false
	}
	s, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false // S ≥ L (RFC 8032 §5.1.7 step 1)
	}
	k := challenge(sig[:32], pk.raw[:], message)
	// check = [S]B - [k]A - R; valid iff [8]check is the identity.
	var check edwards25519.Point
	check.VarTimeDoubleScalarBaseMult(k, &pk.negA, s)
	check.Subtract(&check, &r)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// challenge returns k = SHA-512(R ‖ A ‖ M) mod L.
func challenge(r, a, message []byte) *edwards25519.Scalar {
	return challengeWith(sha512.New(), r, a, message)
}

// challengeWith is challenge with a caller's SHA-512 state, reset first, so
// that a batch hashes all its entries with one.
func challengeWith(h hash.Hash, r, a, message []byte) *edwards25519.Scalar {
	var digest [64]byte
	k := edwards25519.NewScalar()
	challengeInto(k, h, &digest, r, a, message)
	return k
}

// challengeInto is challengeWith writing into k, with digest as the hash's
// scratch: a batch's entries then cost no allocation each (two per
// signature in BenchmarkVerifierClosedLoop otherwise).
func challengeInto(k *edwards25519.Scalar, h hash.Hash, digest *[64]byte, r, a, message []byte) {
	h.Reset()
	h.Write(r)
	h.Write(a)
	h.Write(message)
	k.SetUniformBytes(h.Sum(digest[:0]))
}

// decodeR decodes a signature's R and requires a canonical encoding (SPEC §3).
// Small-order R is allowed: the cofactored equation makes it harmless.
func decodeR(r *edwards25519.Point, enc []byte) bool {
	if _, err := r.SetBytes(enc); err != nil {
		return false
	}
	return canonical(enc)
}

// canonical reports whether the 32-byte point encoding enc is canonical
// (RFC 8032 §5.1.3): y < p, and no sign bit on x = 0.
// edwards25519.Point.SetBytes accepts both y ≥ p and a negative zero x; this
// refuses them from the bytes alone, without the field inversion that
// re-encoding the point would cost. x = 0 exactly when y = 1 or y = −1.
func canonical(enc []byte) bool {
	var y [32]byte
	copy(y[:], enc)
	sign := y[31] >> 7
	y[31] &= 0x7f
	var fe field.Element
	if _, err := fe.SetBytes(y[:]); err != nil {
		return false
	}
	if [32]byte(fe.Bytes()) != y {
		return false // y ≥ p: Bytes reduces mod p
	}
	if sign == 1 {
		var minusOne field.Element
		minusOne.Negate(feOne)
		if fe.Equal(feOne) == 1 || fe.Equal(&minusOne) == 1 {
			return false // x = 0 with the sign bit set
		}
	}
	return true
}

// times2To128 returns [2^128]p.
func times2To128(p *edwards25519.Point) *edwards25519.Point {
	q := new(edwards25519.Point).Set(p)
	for range 128 {
		q.Double(q)
	}
	return q
}

// smallOrder reports whether [8]p is the identity.
func smallOrder(p *edwards25519.Point) bool {
	var q edwards25519.Point
	q.MultByCofactor(p)
	return q.Equal(edwards25519.NewIdentityPoint()) == 1
}
