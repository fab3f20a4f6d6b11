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

// malformedCase is one envelope the strict decoder must refuse, with the
// field and the SPEC §2 rule (Defect) it must name.
type malformedCase struct {
	name   string
	data   []byte
	limit  int
	field  string
	defect Defect
}

// malformedCases covers every strict-decoding rule of SPEC §2 at least once,
// in the envelope, the protected header and the CWT claims. The fuzz target
// uses them as its seed corpus of broken envelopes.
func malformedCases() (valid []byte, cases []malformedCase) {
	good := protectedMap(algPair, kidPair, pivPair)
	valid = envelope(good, emptyMap, payloadOK, sig64)
	withProtected := func(pairs ...[]byte) []byte {
		return envelope(protectedMap(pairs...), emptyMap, payloadOK, sig64)
	}
	rawProtected := func(p []byte) []byte { // p: the header map's bytes, not yet wrapped
		return envelope(appendBytes(nil, p), emptyMap, payloadOK, sig64)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases = []malformedCase{
		// Size limit.
		{"over size limit", valid, 20, "envelope", DefectTooLarge},
		// Truncation.
		{"empty input", nil, 0, "envelope", DefectTruncated},
		{"truncated signature", valid[:len(valid)-3], 0, "envelope", DefectTruncated},
		{"truncated head", valid[:1], 0, "envelope", DefectTruncated},
		{"truncated string length", []byte{0xd2, 0x84, 0x59, 0x01}, 0, "envelope", DefectTruncated},
		// Trailing bytes.
		{"trailing bytes", cat(valid, []byte{0x00}), 0, "envelope", DefectTrailingBytes},
		{"trailing bytes in protected", rawProtected(cat(mapOf(algPair, kidPair, pivPair), []byte{0x00})), 0, "protected", DefectTrailingBytes},
		// Indefinite lengths (RFC 8949 §3.2.2).
		{"indefinite array", cat([]byte{0xd2, 0x9f}, valid[2:], []byte{0xff}), 0, "envelope", DefectIndefiniteLength},
		{"indefinite payload", envelope(good, emptyMap, []byte{0x5f, 0x42, '{', '}', 0xff}, sig64), 0, "envelope", DefectIndefiniteLength},
		{"indefinite protected map", rawProtected(cat([]byte{0xbf}, algPair, kidPair, pivPair, []byte{0xff})), 0, "protected", DefectIndefiniteLength},
		// Shortest form (RFC 8949 §4.2.1).
		{"non-shortest tag", cat([]byte{0xd8, 0x12}, valid[1:]), 0, "envelope", DefectNonShortest},
		{"non-shortest array length", cat([]byte{0xd2, 0x98, 0x04}, valid[2:]), 0, "envelope", DefectNonShortest},
		{"non-shortest alg", withProtected([]byte{0x01, 0x38, 0x12}, kidPair, pivPair), 0, "protected", DefectNonShortest},
		{"non-shortest kid length", withProtected(algPair, []byte{0x04, 0x58, 0x03, 'k', 'i', 'd'}, pivPair), 0, "protected", DefectNonShortest},
		{"non-shortest label", withProtected([]byte{0x18, 0x01, 0x32}, kidPair, pivPair), 0, "protected", DefectNonShortest},
		// Duplicate keys (RFC 8949 §5.6).
		{"duplicate label", withProtected(algPair, kidPair, pivPair, []byte{0x04, 0x41, 'x'}), 0, "protected", DefectDuplicateLabel},
		{"duplicate claim", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa2, 0x06, 0x01, 0x06, 0x02}), 0, "protected.cwt", DefectDuplicateLabel},
		// Unknown labels: refused, never ignored.
		{"unknown label", withProtected(algPair, kidPair, pivPair, []byte{0x18, 0x63, 0x01}), 0, "protected", DefectUnknownLabel},
		{"text label", withProtected(algPair, kidPair, pivPair, []byte{0x61, 'a', 0x01}), 0, "protected", DefectUnknownLabel},
		{"unknown claim", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x01, 0x01}), 0, "protected.cwt", DefectUnknownLabel},
		{"iat near the int64 limit", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x06, 0x1b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 0, "protected.cwt", DefectBadValue},
		{"iat after 9999", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x06, 0x1b, 0, 0, 0, 0x3a, 0xff, 0xf4, 0x41, 0x80}), 0, "protected.cwt", DefectBadValue},
		{"negative exp", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x04, 0x20}), 0, "protected.cwt", DefectBadValue},
		// The unprotected header must be empty.
		{"non-empty unprotected", envelope(good, []byte{0xa1, 0x04, 0x41, 'x'}, payloadOK, sig64), 0, "unprotected", DefectUnprotectedNotEmpty},
		{"unprotected not a map", envelope(good, []byte{0x80}, payloadOK, sig64), 0, "unprotected", DefectUnprotectedNotEmpty},
		// Not a COSE_Sign1.
		{"untagged", valid[1:], 0, "envelope.tag", DefectNotSign1},
		{"tag 17 (COSE_Mac0)", cat([]byte{0xd1}, valid[1:]), 0, "envelope.tag", DefectNotSign1},
		{"three items", envelope(good, emptyMap, payloadOK), 0, "envelope", DefectNotSign1},
		{"five items", envelope(good, emptyMap, payloadOK, sig64, sig64), 0, "envelope", DefectNotSign1},
		// Wrong types.
		{"protected not bstr", envelope(emptyMap, emptyMap, payloadOK, sig64), 0, "protected", DefectWrongType},
		{"detached payload (nil)", envelope(good, emptyMap, []byte{0xf6}, sig64), 0, "payload", DefectWrongType},
		{"payload text", envelope(good, emptyMap, []byte{0x62, '{', '}'}, sig64), 0, "payload", DefectWrongType},
		{"signature text", envelope(good, emptyMap, payloadOK, []byte{0x61, 'x'}), 0, "signature", DefectWrongType},
		{"text alg", withProtected([]byte{0x01, 0x65, 'E', 'S', '2', '5', '6'}, kidPair, pivPair), 0, "protected.alg", DefectWrongType},
		{"piv as integer", withProtected(algPair, kidPair, []byte{0x06, 0x01}), 0, "protected.piv", DefectWrongType},
		{"kid as text", withProtected(algPair, []byte{0x04, 0x63, 'k', 'i', 'd'}, pivPair), 0, "protected.kid", DefectWrongType},
		{"protected is an array", rawProtected([]byte{0x81, 0x01}), 0, "protected", DefectWrongType},
		// Missing labels.
		{"empty protected", envelope([]byte{0x40}, emptyMap, payloadOK, sig64), 0, "protected", DefectMissingLabel},
		{"missing alg", withProtected(kidPair, pivPair), 0, "protected.alg", DefectMissingLabel},
		{"missing kid", withProtected(algPair, pivPair), 0, "protected.kid", DefectMissingLabel},
		{"missing piv", withProtected(algPair, kidPair), 0, "protected.piv", DefectMissingLabel},
		// Refused values.
		{"empty kid", withProtected(algPair, []byte{0x04, 0x40}, pivPair), 0, "protected.kid", DefectBadValue},
		{"kid 33 bytes", withProtected(algPair, append([]byte{0x04, 0x58, 0x21}, make([]byte, 33)...), pivPair), 0, "protected.kid", DefectBadValue},
		{"piv leading zero", withProtected(algPair, kidPair, []byte{0x06, 0x42, 0x00, 0x01}), 0, "protected.piv", DefectBadValue},
		{"piv zero", withProtected(algPair, kidPair, []byte{0x06, 0x41, 0x00}), 0, "protected.piv", DefectBadValue},
		{"piv 9 bytes", withProtected(algPair, kidPair, append([]byte{0x06, 0x49}, bytes.Repeat([]byte{1}, 9)...)), 0, "protected.piv", DefectBadValue},
		{"bad content type", withProtected(algPair, []byte{0x03, 0x18, 0x32}, kidPair, pivPair), 0, "protected.ctype", DefectBadValue},
		{"signature short", envelope(good, emptyMap, payloadOK, append([]byte{0x58, 0x3f}, make([]byte, 63)...)), 0, "signature", DefectBadValue},
		// Unknown algorithms.
		{"unknown alg -257 (RS256)", withProtected([]byte{0x01, 0x39, 0x01, 0x00}, kidPair, pivPair), 0, "protected.alg", DefectUnknownAlg},
		{"unknown alg -1", withProtected([]byte{0x01, 0x20}, kidPair, pivPair), 0, "protected.alg", DefectUnknownAlg},
		// Items SPEC §2 never uses.
		{"float claim", withProtected(algPair, kidPair, pivPair, []byte{0x0f, 0xa1, 0x06, 0xf9, 0x3c, 0x00}), 0, "protected", DefectForbiddenItem},
		{"nested tag", envelope(good, emptyMap, append([]byte{0xd8, 0x18}, payloadOK...), sig64), 0, "envelope", DefectForbiddenItem},
		{"reserved additional information", envelope(good, emptyMap, []byte{0x5c}, sig64), 0, "envelope", DefectForbiddenItem},
		{"nesting too deep", envelope(good, bytes.Repeat([]byte{0x81}, 12), payloadOK, sig64), 0, "envelope", DefectForbiddenItem},
	}
	return valid, cases
}

// mapOf encodes a CBOR map of the given key/value pairs (not wrapped).
func mapOf(pairs ...[]byte) []byte {
	out := appendHead(nil, 5, uint64(len(pairs)))
	for _, p := range pairs {
		out = append(out, p...)
	}
	return out
}

// TestParseRefusesMalformed: every rule of SPEC §2's strict decoding refuses
// its case with the stable reason malformed, the field, and the rule's Defect.
func TestParseRefusesMalformed(t *testing.T) {
	valid, cases := malformedCases()
	if _, err := Parse(valid, 0); err != nil {
		t.Fatalf("baseline envelope refused: %v", err)
	}
	covered := map[Defect]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data, c.limit)
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("got %v, want a *Rejection", err)
			}
			if rej.Reason != ReasonMalformed || rej.Field != c.field || rej.Defect != c.defect {
				t.Fatalf("got %s/%s at %q (%v), want malformed/%s at %q", rej.Reason, rej.Defect, rej.Field, err, c.defect, c.field)
			}
			if DefectOf(err) != c.defect || ReasonOf(err) != ReasonMalformed {
				t.Fatalf("DefectOf/ReasonOf = %s/%s", DefectOf(err), ReasonOf(err))
			}
		})
		covered[c.defect] = true
	}
	for _, d := range Defects {
		if !covered[d] {
			t.Errorf("no case for defect %s", d)
		}
	}
}

// TestTamperingAnyByteFails flips every byte of the encoded message (protected
// header, payload, signature, framing) for every algorithm: the result must
// never both parse and verify. Every byte of the topic (the external_aad) is
// flipped too: the message must not verify on any other topic.
func TestTamperingAnyByteFails(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			k := mustKey(t, alg)
			iat := int64(1_700_000_000)
			msg := mustSign(t, k, Header{Counter: 7, ContentType: ContentTypeJSON, IssuedAt: &iat}, []byte(`{"pm25":12.5}`), testTopic)
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
			if err := env.Verify(k.Public(), testTopic); err != nil {
				t.Fatalf("untampered message: %v", err)
			}
			// The topic is external_aad: flipping any bit pattern of any of
			// its bytes, cutting it or extending it must fail too.
			topics := []string{"city/zone-1/tl-0001/stat", "city/zone-1/tl-0001/state/", "city/zone-2/tl-0001/state", ""}
			for i := range len(testTopic) {
				for _, flip := range []byte{0x01, 0x20, 0x80} {
					b := []byte(testTopic)
					b[i] ^= flip
					topics = append(topics, string(b))
				}
			}
			for _, topic := range topics {
				if err := env.Verify(k.Public(), topic); ReasonOf(err) != ReasonBadSignature {
					t.Fatalf("topic %q: got %v, want bad_signature", topic, err)
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
