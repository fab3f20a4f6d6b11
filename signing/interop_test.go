package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"testing"

	cose "github.com/veraison/go-cose"
)

// ed25519Fully is a go-cose Signer and Verifier for fully specified Ed25519
// (-19, RFC 9864), which go-cose v1.3 does not know; go-cose still builds and
// parses the COSE_Sign1 structure, so the test still checks our encoding.
type ed25519Fully struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

func (e ed25519Fully) Algorithm() cose.Algorithm { return cose.Algorithm(AlgEd25519) }
func (e ed25519Fully) Sign(_ io.Reader, content []byte) ([]byte, error) {
	return ed25519.Sign(e.priv, content), nil
}
func (e ed25519Fully) Verify(content, sig []byte) error {
	if !ed25519.Verify(e.pub, content, sig) {
		return cose.ErrVerification
	}
	return nil
}

// interopKey is one key known to both libraries.
type interopKey struct {
	alg      Alg
	ours     PublicKey
	signer   cose.Signer
	verifier func(PublicKey) (cose.Verifier, error)
}

// stdlibKeys makes an Ed25519 and a P-256 key with the standard library,
// and the P-256 public key's uncompressed encoding.
func stdlibKeys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecRaw, err := ecPriv.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return edPub, edPriv, ecPriv, ecRaw
}

func interopKeys(t *testing.T) []interopKey {
	t.Helper()
	edPub, edPriv, ecPriv, ecRaw := stdlibKeys(t)
	mustPub := func(alg Alg, raw []byte) PublicKey {
		k, err := NewPublicKey(alg, raw)
		if err != nil {
			t.Fatalf("NewPublicKey(%s): %v", alg, err)
		}
		return k
	}
	mustSigner := func(alg cose.Algorithm, k crypto.Signer) cose.Signer {
		s, err := cose.NewSigner(alg, k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return []interopKey{
		{
			alg: AlgEdDSA, ours: mustPub(AlgEdDSA, edPub), signer: mustSigner(cose.AlgorithmEdDSA, edPriv),
			verifier: func(p PublicKey) (cose.Verifier, error) {
				return cose.NewVerifier(cose.AlgorithmEdDSA, ed25519.PublicKey(p.Bytes()))
			},
		},
		{
			alg: AlgEd25519, ours: mustPub(AlgEd25519, edPub), signer: ed25519Fully{priv: edPriv, pub: edPub},
			verifier: func(p PublicKey) (cose.Verifier, error) {
				return ed25519Fully{pub: ed25519.PublicKey(p.Bytes())}, nil
			},
		},
		{
			alg: AlgES256, ours: mustPub(AlgES256, ecRaw), signer: mustSigner(cose.AlgorithmES256, ecPriv),
			verifier: func(p PublicKey) (cose.Verifier, error) {
				pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), p.Bytes())
				if err != nil {
					return nil, err
				}
				return cose.NewVerifier(cose.AlgorithmES256, pub)
			},
		},
	}
}

// TestGoCOSESignsSignetVerifies: envelopes made by go-cose, with the topic as
// external AAD, parse strictly and verify with Signet.
func TestGoCOSESignsSignetVerifies(t *testing.T) {
	for _, k := range interopKeys(t) {
		t.Run(k.alg.String(), func(t *testing.T) {
			msg := cose.NewSign1Message()
			msg.Headers.Protected.SetAlgorithm(cose.Algorithm(k.alg))
			msg.Headers.Protected[cose.HeaderLabelKeyID] = []byte("tl-0001#1")
			msg.Headers.Protected[cose.HeaderLabelPartialIV] = []byte{0x01, 0x02}
			msg.Payload = []byte(`{"groups":{"1":{"state":"red"}}}`)
			if err := msg.Sign(rand.Reader, []byte(testTopic), k.signer); err != nil {
				t.Fatal(err)
			}
			data, err := msg.MarshalCBOR()
			if err != nil {
				t.Fatal(err)
			}
			env, err := Parse(data, 0)
			if err != nil {
				t.Fatalf("Parse(go-cose message): %v", err)
			}
			if env.Header.Counter != 0x0102 || string(env.Header.KID) != "tl-0001#1" {
				t.Fatalf("header: %+v", env.Header)
			}
			if err := env.Verify(k.ours, testTopic); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := env.Verify(k.ours, "city/zone-1/tl-0001/ack"); err == nil {
				t.Fatal("verified under another topic")
			}
		})
	}
}

// TestSignetSignsGoCOSEVerifies: envelopes made by Signet verify in go-cose
// with the same external AAD, and not with another.
func TestSignetSignsGoCOSEVerifies(t *testing.T) {
	for _, alg := range []Alg{AlgEdDSA, AlgEd25519, AlgES256} {
		t.Run(alg.String(), func(t *testing.T) {
			priv := mustKey(t, alg)
			var verifierFor func(PublicKey) (cose.Verifier, error)
			for _, k := range interopKeys(t) {
				if k.alg == alg {
					verifierFor = k.verifier
				}
			}
			data := mustSign(t, priv, Header{Counter: 42, ContentType: ContentTypeJSON}, []byte(`{"lux":40}`), testTopic)
			var msg cose.Sign1Message
			if err := msg.UnmarshalCBOR(data); err != nil {
				t.Fatalf("go-cose cannot parse our envelope: %v", err)
			}
			v, err := verifierFor(priv.Public())
			if err != nil {
				t.Fatal(err)
			}
			if err := msg.Verify([]byte(testTopic), v); err != nil {
				t.Fatalf("go-cose Verify: %v", err)
			}
			if err := msg.Verify([]byte("city/zone-1/other/state"), v); err == nil {
				t.Fatal("go-cose verified under another topic")
			}
		})
	}
}
