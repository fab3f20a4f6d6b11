package signing

import (
	"errors"
	"testing"
	"time"
)

// FuzzEndorsementClaims feeds arbitrary bytes to the endorsement's claims
// decoder and COSE_Key decoder, past the authority's signature: the harness
// signs each input as a real authority would, so that the fuzzer explores
// what a compromised or careless authority could issue rather than stopping
// at the signature check. It must never panic; every refusal must be an
// unauthorized_command rejection of the endorsement; what it accepts must
// carry the required claims and yield, for any algorithm, either a key or a
// rejection.
func FuzzEndorsementClaims(f *testing.F) {
	auth, err := GenerateKey(AlgEd25519)
	if err != nil {
		f.Fatal(err)
	}
	authKID := KeyID(auth.Public())
	for _, alg := range []Alg{AlgEd25519, AlgES256, AlgEd448} {
		op := mustKey(f, alg)
		cwt, err := SignEndorsement(auth, authKID, 1, op.Public(), vectorClaims)
		if err != nil {
			f.Fatal(err)
		}
		env, err := Parse(cwt, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(env.Payload)
	}
	f.Add([]byte{0xa0})                         // {}
	f.Add([]byte{0xa1, 0x02, 0x61, 0x61})       // {2: "a"}
	f.Add([]byte{0xbf, 0x02, 0x61, 0x61, 0xff}) // indefinite map
	f.Fuzz(func(t *testing.T, claims []byte) {
		cwt, err := Sign(auth, Header{KID: authKID, Counter: 1, ContentType: ContentTypeCBOR}, claims, EndorsementAAD)
		if err != nil {
			return // the claims are too large for an envelope
		}
		e, err := VerifyEndorsement(cwt, trusting(auth.Public()))
		if err != nil {
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Reason != ReasonUnauthorizedCommand || rej.Field != fieldEndorsement {
				t.Fatalf("refusal %v is not an unauthorized_command of %s", err, fieldEndorsement)
			}
			return
		}
		if e.Operator == "" || e.Expires.Equal(time.Unix(0, 0)) || len(e.cnf) == 0 {
			t.Fatalf("accepted an endorsement without sub, exp or cnf: %+v", e)
		}
		for _, alg := range []Alg{AlgEd25519, AlgEdDSA, AlgES256, AlgEd448, AlgMLDSA44} {
			if k, err := e.Key(alg); err == nil && k == nil {
				t.Fatalf("Key(%s) returned neither a key nor an error", alg)
			}
		}
	})
}
