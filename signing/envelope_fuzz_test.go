package signing

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the strict decoder. It must never panic,
// and whatever it accepts must re-encode to exactly the input: a message has
// one accepted encoding (SPEC §2), so nothing ambiguous can be signed.
func FuzzParse(f *testing.F) {
	for _, alg := range []Alg{AlgEd25519, AlgES256, AlgEd448} {
		k := mustKey(f, alg)
		iat := int64(1_700_000_000)
		f.Add(mustSign(f, k, Header{Counter: 1}, []byte(`{"on":true}`), testTopic))
		f.Add(mustSign(f, k, Header{Counter: 1 << 40, ContentType: ContentTypeCBOR, IssuedAt: &iat, Endorsement: []byte{0xd2}}, nil, testTopic))
	}
	good := protectedMap(algPair, kidPair, pivPair)
	f.Add(envelope(good, emptyMap, payloadOK, sig64))
	f.Add(envelope(good, emptyMap, []byte{0xf6}, sig64))
	f.Add(envelope(protectedMap(algPair, kidPair, pivPair, []byte{0x04, 0x41, 'x'}), emptyMap, payloadOK, sig64))
	f.Add(append([]byte{0xd2, 0x9f}, 0xff))
	f.Add([]byte{0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data, 1<<16)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed {
				t.Fatalf("parse error with reason %s: %v", ReasonOf(err), err)
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
