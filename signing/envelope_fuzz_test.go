package signing

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the strict decoder. It must never panic;
// every refusal must be malformed with a Defect; and whatever it accepts must
// re-encode to exactly the input: a message has one accepted encoding
// (SPEC §2), so nothing ambiguous can be signed. The seed corpus holds valid
// envelopes of several algorithms and one broken envelope per rule.
func FuzzParse(f *testing.F) {
	for _, alg := range []Alg{AlgEd25519, AlgES256, AlgEd448} {
		k := mustKey(f, alg)
		iat := int64(1_700_000_000)
		f.Add(mustSign(f, k, Header{Counter: 1}, []byte(`{"on":true}`), testTopic))
		f.Add(mustSign(f, k, Header{Counter: 1 << 40, ContentType: ContentTypeCBOR, IssuedAt: &iat, Endorsement: []byte{0xd2}}, nil, testTopic))
	}
	for _, alg := range []Alg{AlgMLDSA44, AlgEdDSA} {
		f.Add(mustSign(f, mustKey(f, alg), Header{Counter: 3}, []byte(`{}`), testTopic))
	}
	// Broken envelopes: one per strict-decoding rule (SPEC §2), and a
	// length that claims more than the address space.
	valid, cases := malformedCases()
	f.Add(valid)
	for _, c := range cases {
		f.Add(c.data)
	}
	f.Add([]byte{0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		agree(t, data) // the fast path takes only what the strict one does
		env, err := Parse(data, 1<<16)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed || DefectOf(err) == "" {
				t.Fatalf("parse error with reason %s, defect %q: %v", ReasonOf(err), DefectOf(err), err)
			}
			return
		}
		if !bytes.Equal(env.Encode(), data) {
			t.Fatalf("accepted a non-canonical encoding:\n in  %x\n out %x", data, env.Encode())
		}
		if _, err := EncodeProtected(env.Header); err != nil {
			t.Fatalf("accepted a header that cannot be re-encoded: %v", err)
		}
	})
}
