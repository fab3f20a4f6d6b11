package signing

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixedAuthority is the Ed25519 authority key of the endorsement vectors.
func fixedAuthority(t *testing.T) PrivateKey {
	t.Helper()
	k, err := newEd25519Private(AlgEd25519, counting(32, 0))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// trusting is an AuthorityKey that knows only pub, under any kid.
func trusting(pub PublicKey) AuthorityKey {
	return func([]byte) (PublicKey, error) { return pub, nil }
}

var vectorClaims = EndorsementClaims{
	Operator: "alice",
	Scope:    CommandScope{Zones: []string{"z1"}, Kinds: []string{"streetlight", "traffic-signal"}, Commands: []string{"dim"}},
	IssuedAt: time.Unix(1_800_000_000, 0),
	Expires:  time.Unix(1_800_003_600, 0),
}

// TestEndorsementWireFormat pins the endorsement CWT of SPEC §5 byte for
// byte, with and without iat: these are the bytes broker/endorsement.go
// made before broker and devices shared this code (Ed25519 signatures are
// deterministic, RFC 8032 §5.1.6).
func TestEndorsementWireFormat(t *testing.T) {
	const body = "0265616c696365041a6b49e010%s08a101a3010120062158200bbc346a57667c380120bd9c7fd7e51d2c5fdfea37cd2f5bf405b2c6bf6f2d783a00010000a3656b696e6473826b7374726565746c696768746e747261666669632d7369676e616c657a6f6e657381627a3168636f6d6d616e6473816364696d"
	auth := fixedAuthority(t)
	op := fixedPublicKey(t, AlgEd25519, false)
	noIat := vectorClaims
	noIat.IssuedAt = time.Time{}
	for _, c := range []struct {
		name   string
		claims EndorsementClaims
		want   string
	}{
		{"with iat", vectorClaims, "d2844da4013203183c0442a1b2064107a0587fa5" + fmt.Sprintf(body, "061a6b49d200") +
			"5840dfb370699391355f37097d858544e5f39cbfd73a0a0cfece9cffaa61756e14c6e5c4748c4d77b225f25bec8cf836d4536ac1a0fdcdc98782bd43085a5a53c505"},
		{"without iat", noIat, "d2844da4013203183c0442a1b2064107a05879a4" + fmt.Sprintf(body, "") +
			"5840cd5190a21339be35a5222792a0ba85819a4e9bcbf7adc1b40989d06756bb9dabac203614c24e327b71f6c16b8e491aadefa6ecaf6951d673679a2f903d79020d"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cwt, err := SignEndorsement(auth, []byte{0xa1, 0xb2}, 7, op, c.claims)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(cwt); got != c.want {
				t.Fatalf("endorsement\n got %s\nwant %s", got, c.want)
			}
			e, err := VerifyEndorsement(cwt, trusting(auth.Public()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.EndorsementClaims, c.claims) || hex.EncodeToString(e.Authority) != "a1b2" || !e.Binds(op) {
				t.Fatalf("verified %+v (authority %x, binds %v); want %+v by a1b2, binding the operator key", e.EndorsementClaims, e.Authority, e.Binds(op), c.claims)
			}
		})
	}
}

// TestEndorsementEveryAlg: an authority of each algorithm endorses an
// operator key of each algorithm; the endorsement verifies, binds that key
// and no other, and yields the key for the operator's algorithm only.
func TestEndorsementEveryAlg(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			auth, op, other := mustKey(t, alg), mustKey(t, alg), mustKey(t, alg)
			cwt, err := SignEndorsement(auth, KeyID(auth.Public()), 1, op.Public(), vectorClaims)
			if err != nil {
				t.Fatal(err)
			}
			e, err := VerifyEndorsement(cwt, trusting(auth.Public()))
			if err != nil {
				t.Fatal(err)
			}
			if !e.Binds(op.Public()) || e.Binds(other.Public()) {
				t.Fatalf("binds the operator key: %v, another key: %v; want true, false", e.Binds(op.Public()), e.Binds(other.Public()))
			}
			k, err := e.Key(alg)
			if err != nil || !bytes.Equal(k.Bytes(), op.Public().Bytes()) {
				t.Fatalf("Key(%s) = %v, %v; want the operator key", alg, k, err)
			}
			wrong := AlgEd25519
			if alg == AlgEd25519 || alg == AlgEdDSA {
				wrong = AlgES256
			}
			if _, err := e.Key(wrong); ReasonOf(err) != ReasonUnauthorizedCommand {
				t.Fatalf("Key(%s) of a %s key: %v, want unauthorized_command", wrong, alg, err)
			}
		})
	}
}

// TestVerifyEndorsementRefuses: each way an endorsement can be wrong is an
// unauthorized_command rejection about protected.endorsement that says why.
func TestVerifyEndorsementRefuses(t *testing.T) {
	auth, rogue, op := mustKey(t, AlgEd25519), mustKey(t, AlgEd25519), mustKey(t, AlgEd25519)
	cnf, err := encodeCOSEKey(op.Public())
	if err != nil {
		t.Fatal(err)
	}
	scope := CommandScope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}}
	// claims signs a hand-made claims map, so that required claims can be left out.
	claims := func(m any) []byte {
		payload, err := detEncMode.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return mustSign(t, auth, Header{Counter: 1, ContentType: ContentTypeCBOR}, payload, EndorsementAAD)
	}
	good, err := SignEndorsement(auth, KeyID(auth.Public()), 1, op.Public(), vectorClaims)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte{}, good...)
	tampered[len(tampered)-80] ^= 1
	byRogue, err := SignEndorsement(rogue, KeyID(auth.Public()), 1, op.Public(), vectorClaims)
	if err != nil {
		t.Fatal(err)
	}
	payload := mustParse(t, good).Payload
	onTopic := mustSign(t, auth, Header{Counter: 1, ContentType: ContentTypeCBOR}, payload, testTopic)
	unknown := func([]byte) (PublicKey, error) { return nil, errors.New("kid 00 is no control-authority key") }

	for _, c := range []struct {
		name      string
		cwt       []byte
		authority AuthorityKey
		says      string
	}{
		{"not COSE", []byte("{}"), trusting(auth.Public()), "not a COSE_Sign1 CWT"},
		{"unknown authority", good, unknown, "kid 00 is no control-authority key"},
		{"signed by another key", byRogue, trusting(auth.Public()), "authority signature"},
		{"tampered", tampered, trusting(auth.Public()), "authority signature"},
		{"signed for a topic", onTopic, trusting(auth.Public()), "authority signature"},
		{"not a claims map", claims([]int{2, 4}), trusting(auth.Public()), "claims: cbor"},
		{"unknown claim", claims(map[int]any{2: "alice", 4: 1_800_003_600, 8: map[int]any{1: cnf}, -65537: scope, 99: 1}), trusting(auth.Public()), "claims"},
		{"no sub", claims(map[int]any{4: 1_800_003_600, 8: map[int]any{1: cnf}, -65537: scope}), trusting(auth.Public()), "sub, exp and cnf"},
		{"no exp", claims(map[int]any{2: "alice", 8: map[int]any{1: cnf}, -65537: scope}), trusting(auth.Public()), "sub, exp and cnf"},
		{"no cnf", claims(map[int]any{2: "alice", 4: 1_800_003_600, -65537: scope}), trusting(auth.Public()), "sub, exp and cnf"},
		{"cnf without a COSE_Key", claims(map[int]any{2: "alice", 4: 1_800_003_600, 8: map[int]any{3: cnf}, -65537: scope}), trusting(auth.Public()), "sub, exp and cnf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := VerifyEndorsement(c.cwt, c.authority)
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Reason != ReasonUnauthorizedCommand || rej.Field != "protected.endorsement" {
				t.Fatalf("VerifyEndorsement = %+v, %v; want an unauthorized_command rejection about protected.endorsement", e, err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %q does not say %q", err, c.says)
			}
		})
	}
}

func mustParse(t *testing.T, msg []byte) *Envelope {
	t.Helper()
	env, err := Parse(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return env
}
