package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
)

// es256Size is the length of r and of s in an ES256 signature (RFC 9053 §2.1).
const es256Size = 32

// es256Public verifies ECDSA P-256 / SHA-256 with r‖s signatures.
type es256Public struct {
	key *ecdsa.PublicKey
	raw []byte // uncompressed SEC1 point
}

// newES256Public takes a 65-byte uncompressed or 33-byte compressed SEC1 point.
func newES256Public(raw []byte) (*es256Public, error) {
	var key *ecdsa.PublicKey
	var err error
	switch len(raw) {
	case 65:
		key, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
	case 33:
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), raw)
		if x == nil {
			return nil, fmt.Errorf("es256 public key: compressed point is not on P-256")
		}
		// SEC 1 §2.3.3 uncompressed form, parsed like any other.
		point := make([]byte, 65)
		point[0] = 4
		x.FillBytes(point[1:33])
		y.FillBytes(point[33:])
		key, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	default:
		return nil, fmt.Errorf("es256 public key: %d bytes, want 65 (uncompressed) or 33 (compressed)", len(raw))
	}
	if err != nil {
		return nil, fmt.Errorf("es256 public key: %w", err)
	}
	uncompressed, err := key.Bytes()
	if err != nil {
		return nil, fmt.Errorf("es256 public key: %w", err)
	}
	return &es256Public{key: key, raw: uncompressed}, nil
}

func (k *es256Public) Alg() Alg      { return AlgES256 }
func (k *es256Public) Bytes() []byte { return append([]byte(nil), k.raw...) }
func (k *es256Public) Verify(message, sig []byte) bool {
	if len(sig) != 2*es256Size {
		return false
	}
	h := sha256.Sum256(message)
	r := new(big.Int).SetBytes(sig[:es256Size])
	s := new(big.Int).SetBytes(sig[es256Size:])
	return ecdsa.Verify(k.key, h[:], r, s)
}

type es256Private struct {
	priv *ecdsa.PrivateKey
	pub  *es256Public
}

func generateES256() (*es256Private, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newES256Private(priv)
}

func newES256Private(priv *ecdsa.PrivateKey) (*es256Private, error) {
	raw, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("es256 private key: %w", err)
	}
	pub, err := newES256Public(raw)
	if err != nil {
		return nil, err
	}
	return &es256Private{priv: priv, pub: pub}, nil
}

func (k *es256Private) Alg() Alg          { return AlgES256 }
func (k *es256Private) Public() PublicKey { return k.pub }
func (k *es256Private) Sign(message []byte) ([]byte, error) {
	h := sha256.Sum256(message)
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 2*es256Size)
	r.FillBytes(sig[:es256Size])
	s.FillBytes(sig[es256Size:])
	return sig, nil
}
