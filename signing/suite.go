package signing

import (
	"crypto/rand"
	"fmt"
)

// NewPublicKey decodes a raw public key (SPEC §2 table) pinned to alg.
// AlgEdDSA takes a 32-byte Ed25519 or a 57-byte Ed448 key; the key's Alg()
// stays AlgEdDSA, because pins are exact.
func NewPublicKey(alg Alg, raw []byte) (PublicKey, error) {
	switch alg {
	case AlgEd25519:
		return newEd25519Public(alg, raw)
	case AlgEdDSA:
		switch len(raw) {
		case ed25519KeySize:
			return newEd25519Public(alg, raw)
		case ed448KeySize:
			return newEd448Public(alg, raw)
		}
		return nil, fmt.Errorf("eddsa public key: %d bytes, want 32 (Ed25519) or 57 (Ed448)", len(raw))
	case AlgEd448:
		return newEd448Public(alg, raw)
	case AlgES256:
		return newES256Public(raw)
	case AlgMLDSA44, AlgMLDSA65, AlgMLDSA87:
		return newMLDSAPublic(alg, raw)
	}
	return nil, fmt.Errorf("public key: unknown algorithm %d", int64(alg))
}

// GenerateKey makes a new private key for alg from crypto/rand. For AlgEdDSA
// it makes an Ed25519 key pinned to -8.
func GenerateKey(alg Alg) (PrivateKey, error) {
	switch alg {
	case AlgEd25519, AlgEdDSA:
		return generateEd25519(alg)
	case AlgEd448:
		return generateEd448(alg)
	case AlgES256:
		return generateES256()
	case AlgMLDSA44, AlgMLDSA65, AlgMLDSA87:
		var seed [mldsaSeedSize]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return nil, err
		}
		return newMLDSAPrivate(alg, seed[:])
	}
	return nil, fmt.Errorf("generate key: unknown algorithm %d", int64(alg))
}
