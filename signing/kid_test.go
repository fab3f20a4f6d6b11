package signing

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestKeyIDIsTheRFC7638Thumbprint checks KeyID against the thumbprint of
// RFC 8037 Appendix A.3 (an Ed25519 JWK), and that the kid depends on the
// public key only: the same key pinned to -8 or -19 keeps its kid, as does a
// key reloaded from its JWK.
func TestKeyIDIsTheRFC7638Thumbprint(t *testing.T) {
	// RFC 8037 A.3: the thumbprint of x = 11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo
	// is kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k (base64url SHA-256).
	x, err := b64.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := b64.DecodeString("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []Alg{AlgEd25519, AlgEdDSA} {
		pub, err := NewPublicKey(alg, x)
		if err != nil {
			t.Fatal(err)
		}
		if got := KeyID(pub); !bytes.Equal(got, thumb[:16]) {
			t.Fatalf("%s: KeyID = %x, want the first 16 bytes of the RFC 8037 A.3 thumbprint, %x", alg, got, thumb[:16])
		}
	}
	if FormatKeyID(thumb[:16]) != "90facafea9b1556698540f70c0117a22" {
		t.Fatalf("FormatKeyID = %s, want lower-case hex", FormatKeyID(thumb[:16]))
	}

	for _, alg := range allAlgs {
		k := mustKey(t, alg)
		j, err := MarshalPublicJWK(k.Public(), []byte{0xaa}) // a given kid is kept, not derived
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJWK(j)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.KID, []byte{0xaa}) || !bytes.Equal(KeyID(back.Public), KeyID(k.Public())) {
			t.Fatalf("%s: kid changed through a JWK round trip", alg)
		}
	}
}

func TestParseKeyID(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"00", true}, {hex.EncodeToString(make([]byte, 32)), true},
		{"", false}, {"0", false}, {"zz", false}, {hex.EncodeToString(make([]byte, 33)), false},
	} {
		if _, err := ParseKeyID(c.in); (err == nil) != c.ok {
			t.Errorf("ParseKeyID(%q): err %v, want ok %v", c.in, err, c.ok)
		}
	}
}
