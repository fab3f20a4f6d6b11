package runtime_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

type seq struct{ n atomic.Uint64 }

func (s *seq) Next() (uint64, error) { return s.n.Add(1), nil }

// cityKit is a streetlight enrolled in a store, a control authority, and
// operator alice endorsed (signing.SignEndorsement, the codec broker and
// device share) for set-level on streetlights of zone z1.
type cityKit struct {
	store     string
	dev       *runtime.Device
	authority signing.PrivateKey
	alice     *command.Operator
	aliceKey  signing.PrivateKey
	outcomes  chan outcome
	ready     chan struct{}
}

type outcome struct {
	topic  string
	reason signing.Reason // "" when acted on
}

func newCityKit(t *testing.T) *cityKit {
	t.Helper()
	dir := t.TempDir()
	k := &cityKit{outcomes: make(chan outcome, 64), ready: make(chan struct{}, 8)}
	k.authority, _ = signing.GenerateKey(signing.AlgEd25519)
	k.aliceKey, _ = signing.GenerateKey(signing.AlgEd25519)
	scope := devices.Scope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{"set-level"}}
	var devs []*runtime.Device
	k.store = brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) error {
		var err error
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{{ID: "sl-1", Zone: "z1", Kind: "streetlight"}}, dir, "", &runtime.Stats{})
		if err == nil {
			_, err = reg.AddAuthorityKey(ctx, "city", keyOf(k.authority))
		}
		if err == nil {
			err = reg.EnrollOperator(ctx, devices.Operator{ID: "alice", Keys: []devices.Key{keyOf(k.aliceKey)}, Scope: scope})
		}
		return err
	})
	cwt, err := signing.SignEndorsement(k.authority, signing.KeyID(k.authority.Public()), 1, k.aliceKey.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope(scope), IssuedAt: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	k.alice = &command.Operator{Key: k.aliceKey, KID: signing.KeyID(k.aliceKey.Public()), Endorsement: cwt, Counter: &seq{}}
	auths := command.Authorities{}
	auths.Add(k.authority.Public(), nil)
	k.dev = devs[0]
	k.dev.Commands = &command.Verifier{Zone: "z1", Device: "sl-1", Kind: "streetlight", Authorities: auths, Boot: time.Now().Add(-time.Minute)}
	k.dev.OnCommand = func(t string, err error) {
		o := outcome{topic: t}
		if err != nil {
			o.reason = signing.ReasonOf(err)
		}
		k.outcomes <- o
	}
	k.dev.OnCommandsReady = func() { k.ready <- struct{}{} }
	return k
}

func keyOf(k signing.PrivateKey) devices.Key {
	p := k.Public()
	return devices.Key{KID: signing.KeyID(p), Alg: p.Alg(), Public: p.Bytes(), Status: devices.StatusActive}
}

// run boots the device against addr until the test ends.
func (k *cityKit) run(t *testing.T, addr string) {
	k.dev.Broker = "tcp://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.dev.Run(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("device: %v", err)
		}
	})
	select {
	case <-k.ready:
	case err := <-done:
		t.Fatalf("device stopped before subscribing to its commands: %v", err)
	}
}

// acks subscribes to the device's acks and returns them, verified under the
// device's key, in order.
func acks(t *testing.T, cl paho.Client, dev *runtime.Device) <-chan runtime.Ack {
	t.Helper()
	out := make(chan runtime.Ack, 64)
	tok := cl.Subscribe("city/z1/sl-1/ack", 1, func(_ paho.Client, m paho.Message) {
		env, err := signing.Parse(m.Payload(), 0)
		if err != nil || env.Verify(dev.Key.Public(), m.Topic()) != nil {
			t.Errorf("ack not signed by the device: %v", err)
			return
		}
		var a runtime.Ack
		if err := json.Unmarshal(env.Payload, &a); err != nil {
			t.Errorf("ack payload %s: %v", env.Payload, err)
		}
		out <- a
	})
	tok.Wait()
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

func connect(t *testing.T, addr, id, user, password string) paho.Client {
	t.Helper()
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(user).SetPassword(password).SetProtocolVersion(4))
	tok := cl.Connect()
	tok.Wait()
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	t.Cleanup(func() { runtime.Disconnect(cl) })
	return cl
}

func publish(t *testing.T, cl paho.Client, topic string, msg []byte) {
	t.Helper()
	tok := cl.Publish(topic, 1, false, msg)
	tok.Wait()
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

// TestCommandThroughSignetBroker: operator alice, endorsed by the city's
// authority, dims a streetlight through a real Signet broker; the device
// verifies the command itself, acts, and answers with a signed ack that the
// broker accepts; the twin shows the new level.
func TestCommandThroughSignetBroker(t *testing.T) {
	k := newCityKit(t)
	hash, err := broker.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	srv := brokertest.Start(t, k.store, func(cfg *broker.Config) {
		cfg.Users = []broker.User{
			{Name: "alice", Role: broker.RoleOperator, Zones: []string{"z1"}, PasswordHash: hash},
			{Name: "admin", Role: broker.RoleAdmin, PasswordHash: hash},
		}
	})
	k.run(t, srv.MQTTAddr())

	watch := connect(t, srv.MQTTAddr(), "console", "admin", "pw")
	ackc := acks(t, watch, k.dev)
	levels := make(chan float64, 64)
	watch.Subscribe("$twin/z1/sl-1/reported", 1, func(_ paho.Client, m paho.Message) {
		var r struct {
			Reported map[string]any `json:"reported"`
		}
		if json.Unmarshal(m.Payload(), &r) == nil {
			if l, ok := r.Reported["level"].(float64); ok {
				levels <- l
			}
		}
	}).Wait()

	alice := connect(t, srv.MQTTAddr(), "alice-console", "alice", "pw")
	topic, msg, err := k.alice.Sign("z1", "sl-1", "set-level", []byte(`{"level":37}`), time.Now(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, alice, topic, msg)
	if o := <-k.outcomes; o.reason != "" {
		t.Fatalf("device refused a good command: %s", o.reason)
	}
	if a := <-ackc; a.Status != "done" || a.Command != "set-level" {
		t.Fatalf("ack %+v, want done for dim", a)
	}
	for l := range levels {
		if l == 37 {
			break
		}
	}
	doc, _ := srv.Edge().Twin("sl-1")
	if doc.Security.Accepted == 0 || len(doc.Security.Rejected) != 0 {
		t.Fatalf("twin security %+v: the device's state and ack must all be accepted", doc.Security)
	}
}

// TestDeviceRefusesCommandsEvenIfDelivered: a fully compromised broker (a
// plain mochi server that checks nothing) delivers whatever it is sent. The
// device acts on alice's endorsed command only, and refuses, with the SPEC
// reason and a signed ack, a command with no endorsement, with an expired
// endorsement, a replay, one out of the operator's scope and an unsafe one.
func TestDeviceRefusesCommandsEvenIfDelivered(t *testing.T) {
	k := newCityKit(t)
	srv, addr := brokertest.Plain(t)
	t.Cleanup(func() { srv.Close() })
	k.run(t, addr)
	attacker := connect(t, addr, "evil", "", "")
	ackc := acks(t, attacker, k.dev)

	now := time.Now()
	sign := func(op *command.Operator, name, payload string, iat time.Time) (string, []byte) {
		topic, msg, err := op.Sign("z1", "sl-1", name, []byte(payload), iat, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return topic, msg
	}
	expired, err := signing.SignEndorsement(k.authority, signing.KeyID(k.authority.Public()), 2, k.aliceKey.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}},
		IssuedAt: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	bare := &command.Operator{Key: k.aliceKey, KID: k.alice.KID, Counter: k.alice.Counter} // one key, one counter
	stale := &command.Operator{Key: k.aliceKey, KID: k.alice.KID, Endorsement: expired, Counter: k.alice.Counter}
	goodTopic, good := sign(k.alice, "set-level", `{"level":20}`, now)

	steps := []struct {
		name   string
		topic  string
		msg    []byte
		reason signing.Reason
	}{
		{"endorsed command", goodTopic, good, ""},
		{"the same command again", goodTopic, good, signing.ReasonReplay},
	}
	add := func(name string, reason signing.Reason, topic string, msg []byte) {
		steps = append(steps, struct {
			name   string
			topic  string
			msg    []byte
			reason signing.Reason
		}{name, topic, msg, reason})
	}
	topic, msg := sign(bare, "set-level", `{"level":5}`, now)
	add("no endorsement", signing.ReasonUnauthorizedCommand, topic, msg)
	topic, msg = sign(stale, "set-level", `{"level":5}`, now)
	add("expired endorsement", signing.ReasonExpired, topic, msg)
	topic, msg = sign(k.alice, "reboot", `{"level":5}`, now)
	add("out of scope", signing.ReasonUnauthorizedCommand, topic, msg)
	topic, msg = sign(k.alice, "set-level", `{"level":500}`, now)
	add("unsafe", signing.ReasonUnsafeCommand, topic, msg)
	topic, msg = sign(k.alice, "set-level", `{"level":5}`, now.Add(-50*time.Second)) // after boot, expired 20 s ago
	add("expired command", signing.ReasonExpired, topic, msg)

	for _, s := range steps {
		publish(t, attacker, s.topic, s.msg)
		o := <-k.outcomes
		if o.reason != s.reason {
			t.Fatalf("%s: device says %q, want %q", s.name, o.reason, s.reason)
		}
		a := <-ackc
		want := "done"
		if s.reason != "" {
			want = "refused"
		}
		if a.Status != want || a.Reason != string(s.reason) {
			t.Fatalf("%s: ack %+v, want %s %s", s.name, a, want, s.reason)
		}
	}
	if got := k.dev.Stats.CmdDone.Load(); got != 1 {
		t.Fatalf("device acted on %d commands, want exactly 1", got)
	}
}
