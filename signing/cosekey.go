package signing

import (
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// COSE_Key labels and values (RFC 9052 §7.1, RFC 9053 §7.1 and §7.2, and
// the AKP key type of the ML-DSA COSE registration), as an endorsement's cnf
// claim carries the operator's key (RFC 8747 §3.2):
//
//	OKP {1:1, -1:crv, -2:x}        Ed25519 (crv 6), Ed448 (crv 7)
//	EC2 {1:2, -1:1, -2:x, -3:y}    ES256 (P-256, from an uncompressed key)
//	AKP {1:7, 3:alg, -1:pub}       ML-DSA-44, -65, -87
const (
	coseKeyKty = 1
	coseKeyAlg = 3
	coseKeyCrv = -1 // OKP and EC2; AKP puts its public key here
	coseKeyX   = -2
	coseKeyY   = -3

	ktyOKP = 1
	ktyEC2 = 2
	ktyAKP = 7

	crvP256    = 1
	crvEd25519 = 6
	crvEd448   = 7
)

// encodeCOSEKey returns pub as a COSE_Key in core deterministic encoding
// (RFC 8949 §4.2.1), so that two encodings of one key are the same bytes and
// an endorsement's cnf can be compared byte for byte with a registered key.
func encodeCOSEKey(pub PublicKey) ([]byte, error) {
	raw := pub.Bytes()
	var m map[int]any
	switch alg := pub.Alg(); {
	case alg == AlgEd25519 || (alg == AlgEdDSA && len(raw) == 32):
		m = map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd25519, coseKeyX: raw}
	case alg == AlgEd448 || (alg == AlgEdDSA && len(raw) == 57):
		m = map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd448, coseKeyX: raw}
	case alg == AlgES256 && len(raw) == 65 && raw[0] == 4:
		m = map[int]any{coseKeyKty: ktyEC2, coseKeyCrv: crvP256, coseKeyX: raw[1:33], coseKeyY: raw[33:]}
	case alg == AlgMLDSA44 || alg == AlgMLDSA65 || alg == AlgMLDSA87:
		m = map[int]any{coseKeyKty: ktyAKP, coseKeyAlg: int64(alg), coseKeyCrv: raw}
	default:
		return nil, fmt.Errorf("cnf: no COSE_Key form for a %d-byte %s key", len(raw), alg)
	}
	return detEncMode.Marshal(m)
}

// decodeCOSEKey reads a COSE_Key as a public key for alg, the algorithm of
// the message that must verify under it. The key type and curve must fit
// alg, so an endorsed Ed25519 key cannot be used as another algorithm.
func decodeCOSEKey(raw []byte, alg Alg) (PublicKey, error) {
	var m map[int64]cbor.RawMessage
	if err := claimsDecMode.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("cnf COSE_Key: %w", err)
	}
	var kty, crv, keyAlg int64
	var x, y, pub []byte
	for label, v := range m {
		var err error
		switch label {
		case coseKeyKty:
			err = claimsDecMode.Unmarshal(v, &kty)
		case coseKeyAlg:
			err = claimsDecMode.Unmarshal(v, &keyAlg)
		case coseKeyCrv:
			if err = claimsDecMode.Unmarshal(v, &crv); err != nil {
				crv, err = 0, claimsDecMode.Unmarshal(v, &pub) // AKP: the public key
			}
		case coseKeyX:
			err = claimsDecMode.Unmarshal(v, &x)
		case coseKeyY:
			err = claimsDecMode.Unmarshal(v, &y)
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
		ok = (crv == crvEd25519 && (alg == AlgEd25519 || alg == AlgEdDSA)) ||
			(crv == crvEd448 && (alg == AlgEd448 || alg == AlgEdDSA))
	case ktyEC2:
		key = append(append([]byte{4}, x...), y...)
		ok = crv == crvP256 && alg == AlgES256
	case ktyAKP:
		key = pub
		ok = Alg(keyAlg) == alg
	}
	if !ok {
		return nil, fmt.Errorf("cnf COSE_Key: kty %d crv %d is not a %s key", kty, crv, alg)
	}
	return NewPublicKey(alg, key)
}
