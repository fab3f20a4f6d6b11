package broker_test

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// operatorKit is a control authority and an operator it endorses.
type operatorKit struct {
	authority, rogue *device // rogue: a key that is no authority's
	op               *device
	scope            devices.Scope
}

func (k *operatorKit) endorse(t *testing.T, by *device, of signing.PublicKey, name string, scope devices.Scope, exp time.Time) []byte {
	t.Helper()
	e, err := signing.SignEndorsement(by.key, by.kid, by.ctr.Add(1), of, signing.EndorsementClaims{
		Operator: name, Scope: signing.CommandScope(scope), IssuedAt: time.Now().Add(-time.Minute), Expires: exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// command signs a command as the operator, with the given endorsement and
// freshness claims.
func (k *operatorKit) command(t *testing.T, signer *device, topic string, payload, endorsement []byte, iat, exp time.Time) []byte {
	t.Helper()
	i, e := iat.Unix(), exp.Unix()
	h := signing.Header{KID: signer.kid, Counter: signer.ctr.Add(1), Endorsement: endorsement, IssuedAt: &i, Expires: &e}
	if iat.IsZero() {
		h.IssuedAt, h.Expires = nil, nil
	}
	msg, err := signing.Sign(signer.key, h, payload, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func startCommandCity(t *testing.T) (*city, *operatorKit) {
	k := &operatorKit{
		authority: newDevice(t, "city", "", "", signing.AlgEd25519),
		rogue:     newDevice(t, "rogue", "", "", signing.AlgEd25519),
		op:        newDevice(t, "alice", "", "", signing.AlgEd25519),
		scope:     devices.Scope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{"set-level"}},
	}
	c := startCityWith(t, func(cfg *broker.Config) {
		cfg.Users = append(cfg.Users, broker.User{Name: "alice", Role: broker.RoleOperator, Zones: []string{"z1"}, PasswordHash: passwordHash(t)})
	}, func(ctx context.Context, reg *devices.Registry) {
		key := func(d *device) devices.Key {
			p := d.key.Public()
			return devices.Key{KID: d.kid, Alg: p.Alg(), Public: p.Bytes(), Status: devices.StatusActive}
		}
		if _, err := reg.AddAuthorityKey(ctx, "city", key(k.authority)); err != nil {
			t.Fatal(err)
		}
		// The registry allows alice more than the authority does: the
		// command must pass both.
		if err := reg.EnrollOperator(ctx, devices.Operator{ID: "alice", Keys: []devices.Key{key(k.op)},
			Scope: devices.Scope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{"set-level", "reboot"}}}); err != nil {
			t.Fatal(err)
		}
	})
	return c, k
}

// TestCommandsAreCheckedByTheBroker: SPEC §5 at the broker. An endorsed,
// fresh, safe command reaches its device and sets the twin's desired state;
// each broken one is refused with its reason (unauthorized_command, expired,
// unsafe_command, impersonation), reaches no subscriber, leaves the twin
// alone, and yields exactly one security event.
func TestCommandsAreCheckedByTheBroker(t *testing.T) {
	c, k := startCommandCity(t)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	dev := c.connect(t, "sl-1", "")
	cmds := subscribe(t, dev, "city/z1/sl-1/cmd/#")
	alice := c.connect(t, "alice-console", "alice")
	gw := c.connect(t, "gw-1", "gw")

	const tp = "city/z1/sl-1/cmd/set-level"
	now := time.Now()
	good := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour))
	fresh := func(payload string) []byte {
		return k.command(t, k.op, tp, []byte(payload), good, now, now.Add(30*time.Second))
	}
	other := newDevice(t, "bob", "", "", signing.AlgEd25519)

	cases := []struct {
		name    string
		reason  signing.Reason
		client  paho.Client
		topic   string
		payload []byte
	}{
		{"no endorsement", signing.ReasonUnauthorizedCommand, alice, tp, k.command(t, k.op, tp, []byte(`{"level":30}`), nil, now, now.Add(30*time.Second))},
		{"endorsed by a non-authority key", signing.ReasonUnauthorizedCommand, alice, tp,
			k.command(t, k.op, tp, []byte(`{"level":30}`), k.endorse(t, k.rogue, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour)), now, now.Add(30*time.Second))},
		{"endorsement of another key", signing.ReasonUnauthorizedCommand, alice, tp,
			k.command(t, k.op, tp, []byte(`{"level":30}`), k.endorse(t, k.authority, other.key.Public(), "alice", k.scope, now.Add(time.Hour)), now, now.Add(30*time.Second))},
		{"endorsement of another operator", signing.ReasonUnauthorizedCommand, alice, tp,
			k.command(t, k.op, tp, []byte(`{"level":30}`), k.endorse(t, k.authority, k.op.key.Public(), "bob", k.scope, now.Add(time.Hour)), now, now.Add(30*time.Second))},
		{"command outside the endorsed scope", signing.ReasonUnauthorizedCommand, alice, "city/z1/sl-1/cmd/reboot",
			k.command(t, k.op, "city/z1/sl-1/cmd/reboot", []byte(`{}`), good, now, now.Add(30*time.Second))},
		{"zone outside the endorsed scope", signing.ReasonUnauthorizedCommand, alice, "city/z2/aq-9/cmd/set-level",
			k.command(t, k.op, "city/z2/aq-9/cmd/set-level", []byte(`{}`), good, now, now.Add(30*time.Second))},
		{"signed by a device key", signing.ReasonUnauthorizedCommand, alice, tp,
			k.command(t, c.devs["sl-1"], tp, []byte(`{"level":30}`), good, now, now.Add(30*time.Second))},
		{"sent by a gateway, not the operator", signing.ReasonImpersonation, gw, tp, fresh(`{"level":30}`)},
		{"expired command", signing.ReasonExpired, alice, tp, k.command(t, k.op, tp, []byte(`{"level":30}`), good, now.Add(-2*time.Minute), now.Add(-time.Minute))},
		{"lifetime over 60 s", signing.ReasonExpired, alice, tp, k.command(t, k.op, tp, []byte(`{"level":30}`), good, now, now.Add(10*time.Minute))},
		{"no iat or exp", signing.ReasonExpired, alice, tp, k.command(t, k.op, tp, []byte(`{"level":30}`), good, time.Time{}, time.Time{})},
		{"expired endorsement", signing.ReasonExpired, alice, tp,
			k.command(t, k.op, tp, []byte(`{"level":30}`), k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(-time.Second)), now, now.Add(30*time.Second))},
		{"unsafe level", signing.ReasonUnsafeCommand, alice, tp, fresh(`{"level":500}`)},
		{"not an object", signing.ReasonUnsafeCommand, alice, tp, fresh(`[1,2]`)},
		// The name binds the payload: set-level owns only its argument.
		{"a field set-level does not own", signing.ReasonUnsafeCommand, alice, tp, fresh(`{"level":30,"on":false}`)},
		{"another command's arguments", signing.ReasonUnsafeCommand, alice, tp, fresh(`{"mode":"off"}`)},
	}
	for i, tc := range cases {
		publish(t, tc.client, tc.topic, byte(i%3), tc.payload)
		if ev := nextEvent(t, events); ev.Reason != string(tc.reason) || ev.Topic != tc.topic {
			t.Fatalf("%s: event %s on %s (%s), want %s", tc.name, ev.Reason, ev.Topic, ev.Detail, tc.reason)
		}
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); len(doc.Desired) != 0 {
		t.Fatalf("a refused command changed desired: %v", doc.Desired)
	}
	ok := fresh(`{"level":30}`)
	publish(t, alice, tp, 1, ok)
	if m := cmds.next(t); m.Topic() != tp || string(m.Payload()) != string(ok) {
		t.Fatalf("device got %s %x first, want the good command unchanged", m.Topic(), m.Payload())
	}
	doc, _ := c.srv.Edge().Twin("sl-1")
	// The desired patch is the catalogue's, computed from the arguments.
	if doc.Desired["level"] != 30.0 || doc.Desired["mode"] != "manual" || len(doc.Desired) != 2 || doc.Delta["level"] != 30.0 {
		t.Fatalf("desired %v delta %v after the command", doc.Desired, doc.Delta)
	}
	// The same command again is a replay of the operator's counter.
	publish(t, alice, tp, 1, ok)
	if ev := nextEvent(t, events); ev.Reason != string(signing.ReasonReplay) {
		t.Fatalf("second copy: event %+v, want replay (and no extra event before it)", ev)
	}
}
