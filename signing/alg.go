package signing

import "fmt"

// Alg is a COSE algorithm identifier (RFC 9053 §2, RFC 9864, and the ML-DSA
// COSE registration). A key is pinned to exactly one Alg in the registry and
// an envelope must name that same value (SPEC §4 step 6).
type Alg int64

// The algorithms of SPEC §2.
const (
	// AlgEdDSA is the polymorphic EdDSA identifier (RFC 9053 §2.2); the curve
	// follows from the key: 32-byte keys are Ed25519, 57-byte keys Ed448.
	AlgEdDSA Alg = -8
	// AlgEd25519 is fully specified Ed25519 (RFC 9864 §2.2).
	AlgEd25519 Alg = -19
	// AlgEd448 is fully specified Ed448 (RFC 9864 §2.2).
	AlgEd448 Alg = -53
	// AlgES256 is ECDSA on P-256 with SHA-256 (RFC 9053 §2.1), r‖s signatures.
	AlgES256 Alg = -7
	// AlgMLDSA44 is ML-DSA-44 (FIPS 204).
	AlgMLDSA44 Alg = -48
	// AlgMLDSA65 is ML-DSA-65 (FIPS 204).
	AlgMLDSA65 Alg = -49
	// AlgMLDSA87 is ML-DSA-87 (FIPS 204).
	AlgMLDSA87 Alg = -50
)

var algNames = map[Alg]string{
	AlgEdDSA:   "eddsa",
	AlgEd25519: "ed25519",
	AlgEd448:   "ed448",
	AlgES256:   "es256",
	AlgMLDSA44: "ml-dsa-44",
	AlgMLDSA65: "ml-dsa-65",
	AlgMLDSA87: "ml-dsa-87",
}

// String returns the lower-case name used on the command line and in JSON.
func (a Alg) String() string {
	if n, ok := algNames[a]; ok {
		return n
	}
	return fmt.Sprintf("alg(%d)", int64(a))
}

// Known reports whether a is one of the algorithms Signet implements.
func (a Alg) Known() bool {
	_, ok := algNames[a]
	return ok
}

// ParseAlg parses a name as printed by String (case-sensitive) or a COSE
// integer value such as "-19".
func ParseAlg(s string) (Alg, error) {
	for a, n := range algNames {
		if n == s {
			return a, nil
		}
	}
	var v int64
	if _, err := fmt.Sscanf(s, "%d", &v); err == nil && fmt.Sprint(v) == s && Alg(v).Known() {
		return Alg(v), nil
	}
	return 0, fmt.Errorf("unknown algorithm %q (want one of ed25519, eddsa, ed448, es256, ml-dsa-44, ml-dsa-65, ml-dsa-87)", s)
}

// SignatureSize is the length of a signature for a (SPEC §2 table), or 0 when
// it depends on the key (AlgEdDSA: 64 for Ed25519, 114 for Ed448) or a is unknown.
func (a Alg) SignatureSize() int {
	switch a {
	case AlgEd25519, AlgES256:
		return 64
	case AlgEd448:
		return 114
	case AlgMLDSA44:
		return 2420
	case AlgMLDSA65:
		return 3309
	case AlgMLDSA87:
		return 4627
	}
	return 0
}
