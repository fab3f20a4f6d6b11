package signing

import (
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
)

const ed448KeySize = ed448.PublicKeySize

// ed448Public verifies pure Ed448 with an empty context (RFC 8032 §5.2).
type ed448Public struct {
	alg Alg
	key ed448.PublicKey
}

func newEd448Public(alg Alg, raw []byte) (*ed448Public, error) {
	if len(raw) != ed448KeySize {
		return nil, fmt.Errorf("%s public key: %d bytes, want %d", alg, len(raw), ed448KeySize)
	}
	return &ed448Public{alg: alg, key: ed448.PublicKey(append([]byte(nil), raw...))}, nil
}

func (k *ed448Public) Alg() Alg      { return k.alg }
func (k *ed448Public) Bytes() []byte { return append([]byte(nil), k.key...) }
func (k *ed448Public) Verify(message, sig []byte) bool {
	return len(sig) == ed448.SignatureSize && ed448.Verify(k.key, message, sig, "")
}

type ed448Private struct {
	alg  Alg
	priv ed448.PrivateKey
	pub  *ed448Public
}

func generateEd448(alg Alg) (*ed448Private, error) {
	var seed [ed448.SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	return newEd448Private(alg, seed[:])
}

func newEd448Private(alg Alg, seed []byte) (*ed448Private, error) {
	if len(seed) != ed448.SeedSize {
		return nil, fmt.Errorf("%s private key: %d bytes, want %d", alg, len(seed), ed448.SeedSize)
	}
	priv := ed448.NewKeyFromSeed(seed)
	pub, err := newEd448Public(alg, priv.Public().(ed448.PublicKey))
	if err != nil {
		return nil, err
	}
	return &ed448Private{alg: alg, priv: priv, pub: pub}, nil
}

func (k *ed448Private) Alg() Alg          { return k.alg }
func (k *ed448Private) Public() PublicKey { return k.pub }
func (k *ed448Private) Sign(message []byte) ([]byte, error) {
	return ed448.Sign(k.priv, message, ""), nil
}
func (k *ed448Private) seed() []byte { return k.priv.Seed() }
