package edbatch

import (
	"crypto/ed25519"
	"testing"
)

func TestVerifyAgreesWithStdlibOnHonestSignatures(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range 50 {
		seed[0] = byte(i)
		priv := ed25519.NewKeyFromSeed(seed)
		msg := []byte{byte(i), 1, 2, 3}
		sig := ed25519.Sign(priv, msg)
		pk, err := NewPublicKey(priv.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		if !Verify(pk, msg, sig) {
			t.Fatalf("key %d: valid signature refused", i)
		}
		sig[5] ^= 1
		if Verify(pk, msg, sig) {
			t.Fatalf("key %d: tampered signature accepted", i)
		}
	}
}

func TestNewPublicKeyRefusesSmallOrderAndNonCanonical(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1 // y = 1: the identity, order 1
	if _, err := NewPublicKey(identity); err != errKeySmall {
		t.Fatalf("identity key: got %v, want %v", err, errKeySmall)
	}
	// y = p+1 (non-canonical encoding of the identity's y).
	nonCanon := []byte{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}
	if _, err := NewPublicKey(nonCanon); err != errKeyCanonical {
		t.Fatalf("non-canonical key: got %v, want %v", err, errKeyCanonical)
	}
	if _, err := NewPublicKey(make([]byte, 31)); err == nil {
		t.Fatal("short key accepted")
	}
}
