package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/signet-city/signet/signing/edbatch"
)

const ed25519KeySize = ed25519.PublicKeySize

// Ed25519PublicKey is an Ed25519 key checked per SPEC §3 at load time and
// verified with the cofactored equation. The batch verifier reaches its
// decoded point through EdwardsKey.
type Ed25519PublicKey struct {
	alg Alg
	key *edbatch.PublicKey
}

func newEd25519Public(alg Alg, raw []byte) (*Ed25519PublicKey, error) {
	k, err := edbatch.NewPublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("%s public key: %w", alg, err)
	}
	return &Ed25519PublicKey{alg: alg, key: k}, nil
}

// Alg returns AlgEd25519 or AlgEdDSA, as pinned.
func (k *Ed25519PublicKey) Alg() Alg { return k.alg }

// Bytes returns the 32-byte encoding (RFC 8032 §5.1.5).
func (k *Ed25519PublicKey) Bytes() []byte { return k.key.Bytes() }

// Verify checks sig with the SPEC §3 rules.
func (k *Ed25519PublicKey) Verify(message, sig []byte) bool {
	return edbatch.Verify(k.key, message, sig)
}

// EdwardsKey returns the decoded key for batch verification.
func (k *Ed25519PublicKey) EdwardsKey() *edbatch.PublicKey { return k.key }

// ed25519Private signs with crypto/ed25519 (RFC 8032 pure Ed25519).
type ed25519Private struct {
	alg  Alg
	priv ed25519.PrivateKey
	pub  *Ed25519PublicKey
}

func generateEd25519(alg Alg) (*ed25519Private, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newEd25519Private(alg, priv.Seed())
}

func newEd25519Private(alg Alg, seed []byte) (*ed25519Private, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s private key: %d bytes, want 32", alg, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub, err := newEd25519Public(alg, priv.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &ed25519Private{alg: alg, priv: priv, pub: pub}, nil
}

func (k *ed25519Private) Alg() Alg          { return k.alg }
func (k *ed25519Private) Public() PublicKey { return k.pub }
func (k *ed25519Private) Sign(message []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, message), nil
}
func (k *ed25519Private) seed() []byte { return k.priv.Seed() }
