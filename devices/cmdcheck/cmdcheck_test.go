package cmdcheck

import (
	"fmt"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

// kit is an authority, operator alice endorsed by it for everything, and a
// streetlight to command.
type kit struct {
	authority, alice signing.PrivateKey
	now              time.Time
}

func newKit(t *testing.T) *kit {
	t.Helper()
	a, _ := signing.GenerateKey(signing.AlgEd25519)
	o, _ := signing.GenerateKey(signing.AlgEd25519)
	return &kit{authority: a, alice: o, now: time.Unix(1_800_000_000, 0)}
}

func (k *kit) trust(kid []byte) (signing.PublicKey, error) {
	if string(kid) != string(signing.KeyID(k.authority.Public())) {
		return nil, fmt.Errorf("not the authority")
	}
	return k.authority.Public(), nil
}

// input signs set-level for sl-1 with the endorsement's iat and the
// command's iat and lifetime given.
func (k *kit) input(t *testing.T, endorsementIAT time.Time, iat time.Time, ttl time.Duration) Input {
	t.Helper()
	cwt, err := signing.SignEndorsement(k.authority, signing.KeyID(k.authority.Public()), 1, k.alice.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}},
		IssuedAt: endorsementIAT, Expires: k.now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	const tp = "city/z1/sl-1/cmd/set-level"
	i, e := iat.Unix(), iat.Add(ttl).Unix()
	msg, err := signing.Sign(k.alice, signing.Header{KID: signing.KeyID(k.alice.Public()), Counter: 1, IssuedAt: &i, Expires: &e, Endorsement: cwt}, []byte(`{"level":40}`), tp)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Parse(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Topic: tp, Envelope: env, Authority: k.trust, Now: k.now, Device: Device{Zone: "z1", ID: "sl-1", Kind: "streetlight"}}
}

// TestClockEdges walks the one skew and the 60 s lifetime edge by edge, for
// the command and for the endorsement alike.
func TestClockEdges(t *testing.T) {
	k := newKit(t)
	past := k.now.Add(-time.Hour)
	skew := signing.ClockSkew
	for _, c := range []struct {
		name           string
		endorsementIAT time.Time
		iat            time.Time
		ttl            time.Duration
		want           signing.Reason
	}{
		{"now", past, k.now, 30 * time.Second, ""},
		{"iat at the skew", past, k.now.Add(skew), 30 * time.Second, ""},
		{"iat past the skew", past, k.now.Add(skew + time.Second), 30 * time.Second, signing.ReasonExpired},
		{"lifetime 60 s", past, k.now, MaxLifetime, ""},
		{"lifetime 61 s", past, k.now, MaxLifetime + time.Second, signing.ReasonExpired},
		{"exp now", past, k.now.Add(-30 * time.Second), 30 * time.Second, signing.ReasonExpired},
		{"endorsement iat at the skew", k.now.Add(skew), k.now, 30 * time.Second, ""},
		{"endorsement iat past the skew", k.now.Add(skew + time.Second), k.now, 30 * time.Second, signing.ReasonExpired},
	} {
		_, err := Check(k.input(t, c.endorsementIAT, c.iat, c.ttl))
		if got := signing.ReasonOf(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestCallerVerifiedKey: a caller that verified the signature itself (the
// broker, with its registry key) gets the command only if the endorsement
// binds that very key; without one, Check verifies the signature itself.
func TestCallerVerifiedKey(t *testing.T) {
	k := newKit(t)
	other, _ := signing.GenerateKey(signing.AlgEd25519)
	in := k.input(t, k.now.Add(-time.Hour), k.now, 30*time.Second)
	in.Verified = k.alice.Public()
	c, err := Check(in)
	if err != nil || c.Operator != "alice" || c.Request.Desired["level"] != 40.0 || c.Request.Desired["mode"] != "manual" {
		t.Fatalf("good command: %+v, %v", c, err)
	}
	in.Verified = other.Public()
	if _, err := Check(in); signing.ReasonOf(err) != signing.ReasonUnauthorizedCommand {
		t.Fatalf("endorsement of another key: %v, want unauthorized_command", err)
	}
	in.Verified = nil
	in.Envelope.Signature[0] ^= 1
	if _, err := Check(in); signing.ReasonOf(err) != signing.ReasonBadSignature {
		t.Fatalf("tampered signature: %v, want bad_signature", err)
	}
}
