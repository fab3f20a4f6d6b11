package command

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-city/signet/signing"
)

// COSE_Key labels and values (RFC 9052 §7.1, RFC 9053 §7, and the AKP key
// type of the ML-DSA COSE registration), in the form broker/endorsement.go
// writes: OKP {1:1, -1:crv, -2:x}; EC2 {1:2, -1:1, -2:x, -3:y}; AKP {1:7,
// 3:alg, -1:pub}.
const (
	keyKty = 1
	keyAlg = 3
	keyCrv = -1 // OKP and EC2; AKP puts its public key here
	keyX   = -2
	keyY   = -3

	ktyOKP = 1
	ktyEC2 = 2
	ktyAKP = 7

	crvP256    = 1
	crvEd25519 = 6
	crvEd448   = 7
)

// encodeCOSEKey is pub as the core-deterministic COSE_Key of a cnf claim
// (RFC 8747 §3.2).
func encodeCOSEKey(pub signing.PublicKey) ([]byte, error) {
	raw := pub.Bytes()
	var m map[int]any
	switch alg := pub.Alg(); {
	case alg == signing.AlgEd25519 || (alg == signing.AlgEdDSA && len(raw) == 32):
		m = map[int]any{keyKty: ktyOKP, keyCrv: crvEd25519, keyX: raw}
	case alg == signing.AlgEd448 || (alg == signing.AlgEdDSA && len(raw) == 57):
		m = map[int]any{keyKty: ktyOKP, keyCrv: crvEd448, keyX: raw}
	case alg == signing.AlgES256 && len(raw) == 65 && raw[0] == 4:
		m = map[int]any{keyKty: ktyEC2, keyCrv: crvP256, keyX: raw[1:33], keyY: raw[33:]}
	case alg == signing.AlgMLDSA44 || alg == signing.AlgMLDSA65 || alg == signing.AlgMLDSA87:
		m = map[int]any{keyKty: ktyAKP, keyAlg: int64(alg), keyCrv: raw}
	default:
		return nil, fmt.Errorf("cnf: no COSE_Key form for a %d-byte %s key", len(raw), alg)
	}
	return encoder.Marshal(m)
}

// decodeCOSEKey reads a cnf COSE_Key as a public key for alg, the algorithm
// of the command that must verify under it. The key type and curve must
// fit alg, so an endorsed Ed25519 key cannot be used as another algorithm.
func decodeCOSEKey(raw cbor.RawMessage, alg signing.Alg) (signing.PublicKey, error) {
	var m map[int64]cbor.RawMessage
	if err := strict.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("cnf COSE_Key: %w", err)
	}
	var kty, crv, keyAlgV int64
	var x, y, pub []byte
	for label, v := range m {
		var err error
		switch label {
		case keyKty:
			err = strict.Unmarshal(v, &kty)
		case keyAlg:
			err = strict.Unmarshal(v, &keyAlgV)
		case keyCrv:
			if err = strict.Unmarshal(v, &crv); err != nil {
				crv, err = 0, strict.Unmarshal(v, &pub) // AKP: the public key
			}
		case keyX:
			err = strict.Unmarshal(v, &x)
		case keyY:
			err = strict.Unmarshal(v, &y)
		default:
			err = fmt.Errorf("unknown label")
		}
		if err != nil {
			return nil, fmt.Errorf("cnf COSE_Key label %d: %w", label, err)
		}
	}
	var key []byte
	ok := false
	switch kty {
	case ktyOKP:
		key = x
		ok = (crv == crvEd25519 && (alg == signing.AlgEd25519 || alg == signing.AlgEdDSA)) ||
			(crv == crvEd448 && (alg == signing.AlgEd448 || alg == signing.AlgEdDSA))
	case ktyEC2:
		key = append(append([]byte{4}, x...), y...)
		ok = crv == crvP256 && alg == signing.AlgES256
	case ktyAKP:
		key = pub
		ok = signing.Alg(keyAlgV) == alg
	}
	if !ok {
		return nil, fmt.Errorf("cnf COSE_Key: kty %d crv %d is not a %s key", kty, crv, alg)
	}
	return signing.NewPublicKey(alg, key)
}
