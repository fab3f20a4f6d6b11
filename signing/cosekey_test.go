package signing

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// counting is n bytes start, start+1, ...: fixed key material for vectors.
func counting(n int, start byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// fixedPublicKey is a public key of alg derived from fixed seeds, the same
// keys the COSE_Key vectors below were made from.
func fixedPublicKey(t *testing.T, alg Alg, ed448Key bool) PublicKey {
	t.Helper()
	var seed [32]byte
	copy(seed[:], counting(32, 7))
	var raw []byte
	switch {
	case ed448Key:
		raw = ed448.NewKeyFromSeed(counting(57, 3)).Public().(ed448.PublicKey)
	case alg == AlgEd25519 || alg == AlgEdDSA:
		raw = ed25519.NewKeyFromSeed(counting(32, 100)).Public().(ed25519.PublicKey)
	case alg == AlgES256:
		k, err := ecdh.P256().NewPrivateKey(counting(32, 1))
		if err != nil {
			t.Fatal(err)
		}
		raw = k.PublicKey().Bytes()
	case alg == AlgMLDSA44:
		pk, _ := mldsa44.NewKeyFromSeed(&seed)
		raw, _ = pk.MarshalBinary()
	case alg == AlgMLDSA65:
		pk, _ := mldsa65.NewKeyFromSeed(&seed)
		raw, _ = pk.MarshalBinary()
	case alg == AlgMLDSA87:
		pk, _ := mldsa87.NewKeyFromSeed(&seed)
		raw, _ = pk.MarshalBinary()
	}
	pub, err := NewPublicKey(alg, raw)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestCOSEKeyWireFormat pins the cnf COSE_Key of every algorithm (RFC 9052
// §7, RFC 8747 §3.2): the head of the encoding and the SHA-256 of all of it,
// as broker and devices wrote them before they shared this code. Decoding
// gives the key back for its algorithm.
func TestCOSEKeyWireFormat(t *testing.T) {
	for _, c := range []struct {
		alg      Alg
		ed448    bool
		size     int
		head     string // up to the first 24 bytes
		sha256   string
		otherAlg Alg // an algorithm the key must not decode as
	}{
		{AlgEd25519, false, 40, "a3010120062158200bbc346a57667c380120bd9c7fd7e51d", "93e25e8dafb1c367493bce19685eaae40888ee17cd270b6481b639b4d98651a7", AlgEd448},
		{AlgEdDSA, false, 40, "a3010120062158200bbc346a57667c380120bd9c7fd7e51d", "93e25e8dafb1c367493bce19685eaae40888ee17cd270b6481b639b4d98651a7", AlgES256},
		{AlgEd448, true, 65, "a301012007215839a3fc03885db8e136c4a08eaca9264189", "01252c750ccd9c87fd16af4955db5c00acc40dd7cf211f944f9bb6820de2aa66", AlgEd25519},
		{AlgEdDSA, true, 65, "a301012007215839a3fc03885db8e136c4a08eaca9264189", "01252c750ccd9c87fd16af4955db5c00acc40dd7cf211f944f9bb6820de2aa66", AlgMLDSA44},
		{AlgES256, false, 75, "a401022001215820515c3d6eb9e396b904d3feca7f54fdcd", "4ed61fd7fdb953dac781943391580a68a82e422e124162f17442520cbf4ee079", AlgEd25519},
		{AlgMLDSA44, false, 1322, "a3010703382f205905208232546289f0eb0085b9de539118", "02b2662f93cf2c89a8a9cab3a4c64e8afc6cb40b910cf031a5f1dd489245ce56", AlgMLDSA65},
		{AlgMLDSA65, false, 1962, "a30107033830205907a07bccf1f85c80e3df8a64d5559922", "bc77f24c3332d570d78b2a753ffc09122991fcef6edc15fa337f261b3d9155df", AlgMLDSA87},
		{AlgMLDSA87, false, 2602, "a3010703383120590a207568d781383ce9330f6e5a84026d", "7a15b90acb80fdf98dbae394a708591921efb9c9da8975caecdb845417386982", AlgMLDSA44},
	} {
		pub := fixedPublicKey(t, c.alg, c.ed448)
		name := c.alg.String()
		if c.ed448 && c.alg == AlgEdDSA {
			name += "/ed448"
		}
		t.Run(name, func(t *testing.T) {
			enc, err := encodeCOSEKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(enc)
			if len(enc) != c.size || hex.EncodeToString(enc[:min(len(enc), 24)]) != c.head || hex.EncodeToString(sum[:]) != c.sha256 {
				t.Fatalf("COSE_Key %d bytes %x... sha256 %x; want %d bytes %s... sha256 %s", len(enc), enc[:min(len(enc), 24)], sum, c.size, c.head, c.sha256)
			}
			got, err := decodeCOSEKey(enc, c.alg)
			if err != nil || got.Alg() != c.alg || !bytes.Equal(got.Bytes(), pub.Bytes()) {
				t.Fatalf("decoded %v, %v; want the %s key back", got, err, c.alg)
			}
			if _, err := decodeCOSEKey(enc, c.otherAlg); err == nil {
				t.Fatalf("a %s COSE_Key decoded as a %s key", c.alg, c.otherAlg)
			}
		})
	}
}

// TestCOSEKeyStrict: a COSE_Key that is not exactly a key Signet writes is
// refused, not guessed at.
func TestCOSEKeyStrict(t *testing.T) {
	pub := fixedPublicKey(t, AlgEd25519, false).Bytes()
	enc := func(m map[int]any) []byte {
		b, err := detEncMode.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := enc(map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd25519, coseKeyX: pub})
	if _, err := decodeCOSEKey(good, AlgEd25519); err != nil {
		t.Fatalf("the well-formed key: %v", err)
	}
	for _, c := range []struct {
		name string
		raw  []byte
	}{
		{"not CBOR", []byte{0xff}},
		{"empty", nil},
		{"not a map", []byte{0x82, 0x01, 0x06}},
		{"unknown label", enc(map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd25519, coseKeyX: pub, 99: 1})},
		{"kty a string", enc(map[int]any{coseKeyKty: "OKP", coseKeyCrv: crvEd25519, coseKeyX: pub})},
		{"no kty", enc(map[int]any{coseKeyCrv: crvEd25519, coseKeyX: pub})},
		{"wrong curve", enc(map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd448, coseKeyX: pub})},
		{"short x", enc(map[int]any{coseKeyKty: ktyOKP, coseKeyCrv: crvEd25519, coseKeyX: pub[:31]})},
		{"duplicate label", append([]byte{0xa4}, append(good[1:], 0x01, 0x01)...)},
		{"indefinite map", append(append([]byte{0xbf}, good[1:]...), 0xff)},
		{"trailing bytes", append(append([]byte{}, good...), 0x00)},
	} {
		if k, err := decodeCOSEKey(c.raw, AlgEd25519); err == nil {
			t.Errorf("%s: decoded as %x", c.name, k.Bytes())
		}
	}
}
