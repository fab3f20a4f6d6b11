package signing

import (
	"bytes"
	"errors"
	"testing"
)

// allAlgs are the fully specified algorithms every suite implements.
var allAlgs = []Alg{AlgEd25519, AlgEdDSA, AlgES256, AlgEd448, AlgMLDSA44, AlgMLDSA65, AlgMLDSA87}

const testTopic = "city/zone-1/tl-0001/state"

func mustKey(t testing.TB, alg Alg) PrivateKey {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%s): %v", alg, err)
	}
	return k
}

func mustSign(t testing.TB, k PrivateKey, h Header, payload []byte, topic string) []byte {
	t.Helper()
	if h.KID == nil {
		h.KID = KeyID(k.Public())
	}
	msg, err := Sign(k, h, payload, topic)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return msg
}

func TestSignParseVerifyEveryAlg(t *testing.T) {
	iat, exp := int64(1_700_000_000), int64(1_700_000_060)
	for _, alg := range allAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			k := mustKey(t, alg)
			h := Header{KID: []byte("kid-1"), Counter: 0x0100, ContentType: ContentTypeJSON, IssuedAt: &iat, Expires: &exp}
			payload := []byte(`{"groups":{"1":{"state":"green"}}}`)
			msg := mustSign(t, k, h, payload, testTopic)
			env, err := Parse(msg, 0)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if env.Header.Alg != alg || !bytes.Equal(env.Header.KID, h.KID) || env.Header.Counter != 0x0100 ||
				env.Header.ContentType != ContentTypeJSON || *env.Header.IssuedAt != iat || *env.Header.Expires != exp {
				t.Fatalf("header round trip: got %+v", env.Header)
			}
			if !bytes.Equal(env.Payload, payload) {
				t.Fatalf("payload: got %q", env.Payload)
			}
			if err := env.Verify(k.Public(), testTopic); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !bytes.Equal(env.Encode(), msg) {
				t.Fatal("Encode(Parse(msg)) != msg")
			}
		})
	}
}

func TestVerifyRefusesOtherTopicKeyAndAlg(t *testing.T) {
	k := mustKey(t, AlgEd25519)
	msg := mustSign(t, k, Header{Counter: 1}, []byte(`{}`), testTopic)
	env, err := Parse(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	other := mustKey(t, AlgEd25519)
	eddsa, err := NewPublicKey(AlgEdDSA, k.Public().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		key   PublicKey
		topic string
		want  Reason
	}{
		{"other topic", k.Public(), "city/zone-1/tl-0002/state", ReasonBadSignature},
		{"other key", other.Public(), testTopic, ReasonBadSignature},
		{"same key pinned to EdDSA", eddsa, testTopic, ReasonAlgMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := env.Verify(c.key, c.topic)
			if got := ReasonOf(err); err == nil || got != c.want {
				t.Fatalf("got %v (%s), want %s", err, got, c.want)
			}
		})
	}
}

// Hand-built CBOR pieces for malformed envelopes.
var (
	kidPair   = []byte{0x04, 0x43, 'k', 'i', 'd'} // 4: h'6b6964'
	pivPair   = []byte{0x06, 0x41, 0x01}          // 6: h'01'
	algPair   = []byte{0x01, 0x32}                // 1: -19
	sig64     = append([]byte{0x58, 0x40}, make([]byte, 64)...)
	emptyMap  = []byte{0xa0}
	payloadOK = []byte{0x42, '{', '}'}
)

func protectedMap(pairs ...[]byte) []byte {
	out := appendHead(nil, 5, uint64(len(pairs)))
	for _, p := range pairs {
		out = append(out, p...)
	}
	return appendBytes(nil, out) // wrapped in a bstr
}

func envelope(items ...[]byte) []byte {
	out := append([]byte{0xd2}, appendHead(nil, 4, uint64(len(items)))...)
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func TestParseRefusesMalformed(t *testing.T) {
	good := protectedMap(algPair, kidPair, pivPair)
	valid := envelope(good, emptyMap, payloadOK, sig64)
	if _, err := Parse(valid, 0); err != nil {
		t.Fatalf("baseline envelope refused: %v", err)
	}
	cases := []struct {
		name  string
		data  []byte
		limit int
		field string
	}{
		{"empty input", nil, 0, "envelope"},
		{"truncated", valid[:len(valid)-3], 0, "envelope"},
		{"trailing bytes", append(append([]byte{}, valid...), 0x00), 0, "envelope"},
		{"over size limit", valid, 20, "envelope"},
		{"untagged", valid[1:], 0, "envelope.tag"},
		{"tag 17 (COSE_Mac0)", append([]byte{0xd1}, valid[1:]...), 0, "envelope.tag"},
		{"indefinite array", append(append([]byte{0xd2, 0x9f}, valid[2:]...), 0xff), 0, "envelope"},
		{"three items", envelope(good, emptyMap, payloadOK), 0, "envelope"},
		{"protected not bstr", envelope(emptyMap, emptyMap, payloadOK, sig64), 0, "protected"},
		{"empty protected", envelope([]byte{0x40}, emptyMap, payloadOK, sig64), 0, "protected"},
		{"non-shortest alg", envelope(protectedMap([]byte{0x01, 0x38, 0x12}, kidPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected"},
		{"non-shortest length", envelope(protectedMap(algPair, []byte{0x04, 0x58, 0x03, 'k', 'i', 'd'}, pivPair), emptyMap, payloadOK, sig64), 0, "protected"},
		{"duplicate label", envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x04, 0x41, 'x'}), emptyMap, payloadOK, sig64), 0, "protected"},
		{"unknown label", envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x18, 0x63, 0x01}), emptyMap, payloadOK, sig64), 0, "protected"},
		{"text label", envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x61, 'a', 0x01}), emptyMap, payloadOK, sig64), 0, "protected"},
		{"float claim", envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x06, 0xf9, 0x3c, 0x00}), emptyMap, payloadOK, sig64), 0, "protected"},
		{"unknown claim", envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x01, 0x01}), emptyMap, payloadOK, sig64), 0, "protected.cwt"},
		{"missing alg", envelope(protectedMap(kidPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected.alg"},
		{"missing kid", envelope(protectedMap(algPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected.kid"},
		{"missing piv", envelope(protectedMap(algPair, kidPair), emptyMap, payloadOK, sig64), 0, "protected.piv"},
		{"unknown alg", envelope(protectedMap([]byte{0x01, 0x20}, kidPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected.alg"},
		{"text alg", envelope(protectedMap([]byte{0x01, 0x65, 'E', 'S', '2', '5', '6'}, kidPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected.alg"},
		{"empty kid", envelope(protectedMap(algPair, []byte{0x04, 0x40}, pivPair), emptyMap, payloadOK, sig64), 0, "protected.kid"},
		{"kid 33 bytes", envelope(protectedMap(algPair, append([]byte{0x04, 0x58, 0x21}, make([]byte, 33)...), pivPair), emptyMap, payloadOK, sig64), 0, "protected.kid"},
		{"piv leading zero", envelope(protectedMap(algPair, kidPair, []byte{0x06, 0x42, 0x00, 0x01}), emptyMap, payloadOK, sig64), 0, "protected.piv"},
		{"piv zero", envelope(protectedMap(algPair, kidPair, []byte{0x06, 0x41, 0x00}), emptyMap, payloadOK, sig64), 0, "protected.piv"},
		{"piv 9 bytes", envelope(protectedMap(algPair, kidPair, append([]byte{0x06, 0x49}, bytes.Repeat([]byte{1}, 9)...)), emptyMap, payloadOK, sig64), 0, "protected.piv"},
		{"piv as integer", envelope(protectedMap(algPair, kidPair, []byte{0x06, 0x01}), emptyMap, payloadOK, sig64), 0, "protected.piv"},
		{"bad content type", envelope(protectedMap(algPair, []byte{0x03, 0x18, 0x32}, kidPair, pivPair), emptyMap, payloadOK, sig64), 0, "protected.ctype"},
		{"non-empty unprotected", envelope(good, []byte{0xa1, 0x04, 0x41, 'x'}, payloadOK, sig64), 0, "unprotected"},
		{"detached payload (nil)", envelope(good, emptyMap, []byte{0xf6}, sig64), 0, "payload"},
		{"payload text", envelope(good, emptyMap, []byte{0x62, '{', '}'}, sig64), 0, "payload"},
		{"signature short", envelope(good, emptyMap, payloadOK, append([]byte{0x58, 0x3f}, make([]byte, 63)...)), 0, "signature"},
		{"nested tag", envelope(good, emptyMap, append([]byte{0xd8, 0x18}, payloadOK...), sig64), 0, "envelope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data, c.limit)
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("got %v, want a *Rejection", err)
			}
			if rej.Reason != ReasonMalformed || rej.Field != c.field {
				t.Fatalf("got %s at %q (%v), want malformed at %q", rej.Reason, rej.Field, err, c.field)
			}
		})
	}
}

// TestTamperingAnyByteFails flips every byte of the encoded message (protected
// header, payload, signature, framing) for every algorithm: the result must
// never both parse and verify. A different topic must not verify either.
func TestTamperingAnyByteFails(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			k := mustKey(t, alg)
			msg := mustSign(t, k, Header{Counter: 7}, []byte(`{"pm25":12.5}`), testTopic)
			for i := range msg {
				for _, flip := range []byte{0x01, 0x80} {
					tampered := bytes.Clone(msg)
					tampered[i] ^= flip
					env, err := Parse(tampered, 0)
					if err != nil {
						continue
					}
					if env.Verify(k.Public(), testTopic) == nil {
						t.Fatalf("byte %d ^ %#x: tampered message verified", i, flip)
					}
				}
			}
			env, err := Parse(msg, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, topic := range []string{"city/zone-1/tl-0001/stat", "city/zone-1/tl-0001/state/", "city/zone-2/tl-0001/state", ""} {
				if env.Verify(k.Public(), topic) == nil {
					t.Fatalf("verified on topic %q", topic)
				}
			}
		})
	}
}

func TestEncodeProtectedRefusesBadHeaders(t *testing.T) {
	cases := []struct {
		name string
		h    Header
	}{
		{"unknown alg", Header{Alg: 3, KID: []byte{1}, Counter: 1}},
		{"no kid", Header{Alg: AlgEd25519, Counter: 1}},
		{"kid too long", Header{Alg: AlgEd25519, KID: make([]byte, 33), Counter: 1}},
		{"counter zero", Header{Alg: AlgEd25519, KID: []byte{1}}},
		{"bad content type", Header{Alg: AlgEd25519, KID: []byte{1}, Counter: 1, ContentType: "text/plain"}},
	}
	for _, c := range cases {
		if _, err := EncodeProtected(c.h); err == nil {
			t.Errorf("%s: encoded", c.name)
		}
	}
}

func TestCounterEncodingIsShortest(t *testing.T) {
	for _, c := range []uint64{1, 0xff, 0x100, 0xffff, 1 << 40, ^uint64(0)} {
		h := Header{Alg: AlgEd25519, KID: []byte{1}, Counter: c}
		p, err := EncodeProtected(h)
		if err != nil {
			t.Fatal(err)
		}
		var got Header
		if err := parseProtected(p, &got); err != nil {
			t.Fatalf("counter %d: %v", c, err)
		}
		if got.Counter != c {
			t.Fatalf("counter %d decoded as %d", c, got.Counter)
		}
	}
}
