package signing

import (
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// mldsaSeedSize is the ML-DSA key generation seed ξ (FIPS 204 §5.1).
const mldsaSeedSize = 32

func mldsaScheme(alg Alg) sign.Scheme {
	switch alg {
	case AlgMLDSA44:
		return mldsa44.Scheme()
	case AlgMLDSA65:
		return mldsa65.Scheme()
	default:
		return mldsa87.Scheme()
	}
}

// mldsaPublic verifies ML-DSA (FIPS 204) with an empty context string.
type mldsaPublic struct {
	alg Alg
	key sign.PublicKey
	raw []byte
}

func newMLDSAPublic(alg Alg, raw []byte) (*mldsaPublic, error) {
	s := mldsaScheme(alg)
	if len(raw) != s.PublicKeySize() {
		return nil, fmt.Errorf("%s public key: %d bytes, want %d", alg, len(raw), s.PublicKeySize())
	}
	k, err := s.UnmarshalBinaryPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s public key: %w", alg, err)
	}
	return &mldsaPublic{alg: alg, key: k, raw: append([]byte(nil), raw...)}, nil
}

func (k *mldsaPublic) Alg() Alg      { return k.alg }
func (k *mldsaPublic) Bytes() []byte { return append([]byte(nil), k.raw...) }
func (k *mldsaPublic) Verify(message, sig []byte) bool {
	return len(sig) == k.alg.SignatureSize() && mldsaScheme(k.alg).Verify(k.key, message, sig, nil)
}

type mldsaPrivate struct {
	alg     Alg
	seedRaw []byte
	priv    sign.PrivateKey
	pub     *mldsaPublic
}

func newMLDSAPrivate(alg Alg, seed []byte) (*mldsaPrivate, error) {
	if len(seed) != mldsaSeedSize {
		return nil, fmt.Errorf("%s private key: seed is %d bytes, want %d", alg, len(seed), mldsaSeedSize)
	}
	pk, sk := mldsaScheme(alg).DeriveKey(seed)
	raw, err := pk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	pub, err := newMLDSAPublic(alg, raw)
	if err != nil {
		return nil, err
	}
	return &mldsaPrivate{alg: alg, seedRaw: append([]byte(nil), seed...), priv: sk, pub: pub}, nil
}

func (k *mldsaPrivate) Alg() Alg          { return k.alg }
func (k *mldsaPrivate) Public() PublicKey { return k.pub }

// Sign uses hedged (randomized) signing, FIPS 204 §3.4.
func (k *mldsaPrivate) Sign(message []byte) ([]byte, error) {
	sig := make([]byte, k.alg.SignatureSize())
	var err error
	switch sk := k.priv.(type) {
	case *mldsa44.PrivateKey:
		err = mldsa44.SignTo(sk, message, nil, true, sig)
	case *mldsa65.PrivateKey:
		err = mldsa65.SignTo(sk, message, nil, true, sig)
	case *mldsa87.PrivateKey:
		err = mldsa87.SignTo(sk, message, nil, true, sig)
	default:
		return nil, fmt.Errorf("%s: unexpected private key type %T", k.alg, k.priv)
	}
	return sig, err
}
func (k *mldsaPrivate) seed() []byte { return append([]byte(nil), k.seedRaw...) }
