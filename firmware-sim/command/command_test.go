package command

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

type seq struct{ n atomic.Uint64 }

func (s *seq) Next() (uint64, error) { return s.n.Add(1), nil }

// fixture is an authority, an operator it endorsed for dim on streetlights
// of zone z1, and a streetlight's verifier that trusts the authority.
type fixture struct {
	authority          signing.PrivateKey
	op                 *Operator
	opKey              signing.PrivateKey
	verifier           *Verifier
	now                time.Time
	endorsementExpires time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	auth, _ := signing.GenerateKey(signing.AlgEd25519)
	opKey, _ := signing.GenerateKey(signing.AlgEd25519)
	f := &fixture{authority: auth, opKey: opKey, now: now, endorsementExpires: now.Add(time.Hour)}
	f.op = f.operator(t, opKey, devices.Scope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{Dim}}, now.Add(-time.Hour), f.endorsementExpires)
	auths := Authorities{}
	auths.Add(auth.Public(), nil)
	f.verifier = &Verifier{Zone: "z1", Device: "sl-1", Kind: "streetlight", Authorities: auths, Boot: now.Add(-50 * time.Second)}
	return f
}

func (f *fixture) operator(t *testing.T, key signing.PrivateKey, scope devices.Scope, iat, exp time.Time) *Operator {
	t.Helper()
	kid := signing.KeyID(key.Public())
	cwt, err := signing.SignEndorsement(f.authority, signing.KeyID(f.authority.Public()), 1, key.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope(scope), IssuedAt: iat, Expires: exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Operator{Key: key, KID: kid, Endorsement: cwt, Counter: &seq{}}
}

// signed is a command on its topic.
type signed struct {
	topic string
	msg   []byte
}

func (f *fixture) sign(t *testing.T, op *Operator, device, name, payload string, iat time.Time, ttl time.Duration) signed {
	t.Helper()
	tp, msg, err := op.Sign("z1", device, name, []byte(payload), iat, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return signed{tp, msg}
}

// Dim is the streetlight command of these tests (devices/catalog).
const Dim = "set-level"

var lit = map[string]any{"on": true, "level": 100.0, "mode": "schedule"}

// TestDeviceChecksCommands walks SPEC §5 check by check: each case must be
// refused with its reason, and the good command accepted exactly once.
func TestDeviceChecksCommands(t *testing.T) {
	f := newFixture(t)
	good := func() signed { return f.sign(t, f.op, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second) }
	g := good()
	goodTopic, goodMsg := g.topic, g.msg

	other, _ := signing.GenerateKey(signing.AlgEd25519)
	stranger, _ := signing.GenerateKey(signing.AlgEd25519) // an authority the device does not trust
	untrusted := &fixture{authority: stranger}
	rogue := untrusted.operator(t, f.opKey, f.verifier.scopeAll(), f.now.Add(-time.Hour), f.now.Add(time.Hour))
	expiredEndorsement := f.operator(t, f.opKey, f.verifier.scopeAll(), f.now.Add(-2*time.Hour), f.now.Add(-time.Hour))
	futureEndorsement := f.operator(t, f.opKey, f.verifier.scopeAll(), f.now.Add(time.Hour), f.now.Add(2*time.Hour))
	narrow := f.operator(t, f.opKey, devices.Scope{Zones: []string{"z2"}, Kinds: []string{"*"}, Commands: []string{"*"}}, f.now.Add(-time.Hour), f.now.Add(time.Hour))
	// The endorsement of f.op, but the command signed by another key.
	thief := &Operator{Key: other, KID: signing.KeyID(other.Public()), Endorsement: f.op.Endorsement, Counter: &seq{}}
	stolenKID := &Operator{Key: other, KID: f.op.KID, Endorsement: f.op.Endorsement, Counter: &seq{}}
	bare := &Operator{Key: f.opKey, KID: f.op.KID, Counter: &seq{}}

	tampered := good()
	tampered.msg[len(tampered.msg)-70] ^= 1

	cases := []struct {
		name string
		in   signed
		want signing.Reason
	}{
		{"no endorsement", f.sign(t, bare, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonUnauthorizedCommand},
		{"endorsed by an authority the device does not trust", f.sign(t, rogue, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonUnauthorizedCommand},
		{"signed by a key the endorsement does not name", f.sign(t, thief, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonBadSignature},
		{"endorsed kid, wrong key", f.sign(t, stolenKID, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonBadSignature},
		{"tampered payload", tampered, signing.ReasonBadSignature},
		{"endorsement expired", f.sign(t, expiredEndorsement, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonExpired},
		{"command expired", f.sign(t, f.op, "sl-1", Dim, `{"level":40}`, f.now.Add(-40*time.Second), 30*time.Second), signing.ReasonExpired},
		{"command lives longer than 60 s", f.sign(t, f.op, "sl-1", Dim, `{"level":40}`, f.now, 2*time.Minute), signing.ReasonExpired},
		{"issued in the future", f.sign(t, f.op, "sl-1", Dim, `{"level":40}`, f.now.Add(time.Minute), 30*time.Second), signing.ReasonExpired},
		{"endorsement issued in the future", f.sign(t, futureEndorsement, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonExpired},
		{"a field set-level does not own", f.sign(t, f.op, "sl-1", Dim, `{"level":40,"mode":"off"}`, f.now, 30*time.Second), signing.ReasonUnsafeCommand},
		{"a duplicate argument", f.sign(t, f.op, "sl-1", Dim, `{"level":40,"level":100}`, f.now, 30*time.Second), signing.ReasonUnsafeCommand},
		{"issued before the device booted", f.sign(t, f.op, "sl-1", Dim, `{"level":40}`, f.now.Add(-55*time.Second), 60*time.Second), signing.ReasonReplay},
		{"out of scope: zone", f.sign(t, narrow, "sl-1", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonUnauthorizedCommand},
		{"out of scope: command", f.sign(t, f.op, "sl-1", "reboot", `{}`, f.now, 30*time.Second), signing.ReasonUnauthorizedCommand},
		{"unsafe level", f.sign(t, f.op, "sl-1", Dim, `{"level":150}`, f.now, 30*time.Second), signing.ReasonUnsafeCommand},
		{"unsafe payload", f.sign(t, f.op, "sl-1", Dim, `{"brightness":1}`, f.now, 30*time.Second), signing.ReasonUnsafeCommand},
		{"another device's command", f.sign(t, f.op, "sl-2", Dim, `{"level":40}`, f.now, 30*time.Second), signing.ReasonBadTopic},
		{"garbage", signed{goodTopic, []byte(`{"level":40}`)}, signing.ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.verifier.Check(c.in.topic, c.in.msg, f.now, lit)
			if got := signing.ReasonOf(err); got != c.want {
				t.Fatalf("reason %q (%v), want %q", got, err, c.want)
			}
		})
	}
	cmd, err := f.verifier.Check(goodTopic, goodMsg, f.now, lit)
	if err != nil {
		t.Fatalf("good command refused: %v", err)
	}
	if cmd.Name != Dim || cmd.Operator != "alice" || cmd.Args.Number("level") != 40 {
		t.Fatalf("verified command %+v", cmd)
	}
	if _, err := f.verifier.Check(goodTopic, goodMsg, f.now, lit); signing.ReasonOf(err) != signing.ReasonReplay {
		t.Fatalf("the same command twice: %v, want replay", err)
	}
	var rej *signing.Rejection
	if _, err := f.verifier.Check(goodTopic, goodMsg, f.now, lit); !errors.As(err, &rej) {
		t.Fatalf("error %T is not a *signing.Rejection", err)
	}
}

// TestSafetyUsesTheCatalogue: a traffic signal refuses a plan with
// conflicting greens, a plan its params do not define, a hold longer than
// its maximum and a payload that would set the groups directly; it takes the
// catalogue's good commands.
func TestSafetyUsesTheCatalogue(t *testing.T) {
	f := newFixture(t)
	f.op = f.operator(t, f.opKey, f.verifier.scopeAll(), f.now.Add(-time.Hour), f.endorsementExpires)
	params := json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["2","8"],["4","6"],["4","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000,` +
		`"plans":{"am":[["2","6"],["4","8"]],"bad":[["2","4"]]},"max_hold_s":60}`)
	v := &Verifier{Zone: "z1", Device: "ts-1", Kind: "traffic-signal", Params: params, Authorities: f.verifier.Authorities, Boot: f.verifier.Boot}
	red := func() map[string]any { return map[string]any{"state": "red", "since": 1000.0} }
	reported := map[string]any{"mode": "normal", "groups": map[string]any{"2": red(), "4": red(), "6": red(), "8": red()}}
	for _, c := range []struct {
		name, payload string
		want          signing.Reason
	}{
		{"set-plan", `{"plan":"am"}`, ""},
		{"set-plan", `{"plan":"bad"}`, signing.ReasonUnsafeCommand},
		{"set-plan", `{"plan":"pm"}`, signing.ReasonUnsafeCommand},
		{"set-plan", `{"groups":{"2":{"state":"green","since":9000},"4":{"state":"green","since":9000}}}`, signing.ReasonUnsafeCommand},
		{"hold-phase", `{"group":"2","seconds":60}`, ""},
		{"hold-phase", `{"group":"2","seconds":61}`, signing.ReasonUnsafeCommand},
		{"hold-phase", `{"group":"9","seconds":10}`, signing.ReasonUnsafeCommand},
		{"flash", `{}`, ""},
		{"flash", `{"reason":"storm"}`, ""},
		{"flash", `{"mode":"normal"}`, signing.ReasonUnsafeCommand},
		{"resume", `{}`, ""},
		{"cancel", `{"command":"set-plan"}`, ""},
		{"cancel", `{"command":"cancel"}`, signing.ReasonUnsafeCommand},
		{"set-level", `{"level":40}`, signing.ReasonUnsafeCommand},
		{"set-plan", `[1,2]`, signing.ReasonUnsafeCommand},
	} {
		m := f.sign(t, f.op, "ts-1", c.name, c.payload, f.now, 30*time.Second)
		_, err := v.Check(m.topic, m.msg, f.now, reported)
		if got := signing.ReasonOf(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s %s: %v, want %q", c.name, c.payload, err, c.want)
		}
	}
}

func (v *Verifier) scopeAll() devices.Scope {
	return devices.Scope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}}
}
