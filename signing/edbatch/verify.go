package edbatch

import (
	"crypto/sha512"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
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
	a    edwards25519.Point // A
	negA edwards25519.Point // -A, so that [S]B + [k](-A) is one double-scalar mult
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
	if _, err := pk.a.SetBytes(raw); err != nil {
		return nil, errKeyEncoding
	}
	if !canonical(&pk.a, raw) {
		return nil, errKeyCanonical
	}
	if smallOrder(&pk.a) {
		return nil, errKeySmall
	}
	pk.negA.Negate(&pk.a)
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
	h := sha512.New()
	h.Write(r)
	h.Write(a)
	h.Write(message)
	var digest [64]byte
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	return k
}

// decodeR decodes a signature's R and requires a canonical encoding (SPEC §3).
// Small-order R is allowed: the cofactored equation makes it harmless.
func decodeR(r *edwards25519.Point, enc []byte) bool {
	if _, err := r.SetBytes(enc); err != nil {
		return false
	}
	return canonical(r, enc)
}

// canonical reports whether enc is the one canonical encoding of p.
// edwards25519.Point.SetBytes accepts y ≥ p and a negative zero x; re-encoding
// and comparing refuses both.
func canonical(p *edwards25519.Point, enc []byte) bool {
	var buf [32]byte
	got := p.Bytes()
	copy(buf[:], enc)
	return [32]byte(got) == buf
}

// smallOrder reports whether [8]p is the identity.
func smallOrder(p *edwards25519.Point) bool {
	var q edwards25519.Point
	q.MultByCofactor(p)
	return q.Equal(edwards25519.NewIdentityPoint()) == 1
}
