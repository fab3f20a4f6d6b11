package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// fastSignal is an intersection whose cycle is short enough for a test
// (the yellow cannot be shorter than 3 s, MUTCD §4D.26), with a good plan,
// a plan that shows conflicting greens, and holds of up to 10 s.
var fastSignal = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["4","8"]],"min_green_ms":1000,"min_yellow_ms":3000,"red_clearance_ms":500,` +
	`"plans":{"fast":[["2","6"],["4","8"]],"bad":[["2","4"],["6","8"]]},"max_hold_s":10}`)

// fleetKit is one device of every kind (and a second streetlight) enrolled in
// a store, flashed with the city authority's key, and operator alice endorsed
// by that authority for everything in zone z1.
type fleetKit struct {
	store     string
	devs      map[string]*runtime.Device
	authority signing.PrivateKey
	rogue     signing.PrivateKey // a key no device or broker trusts
	aliceKey  signing.PrivateKey
	alice     *command.Operator
}

var allOfZ1 = devices.Scope{Zones: []string{"z1"}, Kinds: []string{"*"}, Commands: []string{"*"}}

func newFleetKit(t *testing.T) *fleetKit {
	t.Helper()
	dir := t.TempDir()
	k := &fleetKit{devs: map[string]*runtime.Device{}}
	k.authority, _ = signing.GenerateKey(signing.AlgEd25519)
	k.rogue, _ = signing.GenerateKey(signing.AlgEd25519)
	k.aliceKey, _ = signing.GenerateKey(signing.AlgEd25519)
	specs := []fleet.Spec{
		{ID: "ts-1", Zone: "z1", Kind: "traffic-signal", Params: fastSignal},
		{ID: "sl-1", Zone: "z1", Kind: "streetlight"},
		{ID: "sl-2", Zone: "z1", Kind: "streetlight"},
		{ID: "ld-1", Zone: "z1", Kind: "loop-detector"},
		{ID: "aq-1", Zone: "z1", Kind: "air-quality"},
	}
	var devs []*runtime.Device
	k.store = brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) error {
		var err error
		devs, err = fleet.Build(ctx, reg, specs, dir, "", &runtime.Stats{})
		if err == nil {
			_, err = reg.AddAuthorityKey(ctx, "city", keyOf(k.authority))
		}
		if err == nil {
			err = reg.EnrollOperator(ctx, devices.Operator{ID: "alice", Keys: []devices.Key{keyOf(k.aliceKey)}, Scope: allOfZ1})
		}
		return err
	})
	k.alice = k.operator(t, k.authority, allOfZ1, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	auths := command.Authorities{}
	auths.Add(k.authority.Public(), nil)
	for i, d := range devs {
		d.Stats = &runtime.Stats{}
		d.Commands = &command.Verifier{Zone: "z1", Device: d.ID, Kind: specs[i].Kind, Params: specs[i].Params, Authorities: auths, Boot: time.Now().Add(-5 * time.Minute)}
		if ts, ok := d.Model.(*model.TrafficSignal); ok {
			ts.SetGreen(time.Second)
		}
		k.devs[d.ID] = d
	}
	return k
}

// operator is alice's key endorsed by authority with scope and validity.
func (k *fleetKit) operator(t *testing.T, authority signing.PrivateKey, scope devices.Scope, iat, exp time.Time) *command.Operator {
	t.Helper()
	cwt, err := signing.SignEndorsement(authority, signing.KeyID(authority.Public()), 1, k.aliceKey.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope(scope), IssuedAt: iat, Expires: exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	op := &command.Operator{Key: k.aliceKey, KID: signing.KeyID(k.aliceKey.Public()), Endorsement: cwt, Counter: &seq{}}
	if k.alice != nil {
		op.Counter = k.alice.Counter // one key, one counter
	}
	return op
}

// runAll boots every device against addr until the test ends and waits for
// each to subscribe to its commands.
func (k *fleetKit) runAll(t *testing.T, addr string) {
	t.Helper()
	for _, d := range k.devs {
		ready := make(chan struct{}, 8)
		d.OnCommandsReady = func() { ready <- struct{}{} }
		d.Broker = "tcp://" + addr
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, 100*time.Millisecond) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("device %s: %v", d.ID, err)
			}
		})
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("device %s stopped before subscribing to its commands: %v", d.ID, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("device %s did not subscribe to its commands", d.ID)
		}
	}
}

// ackStream is every device's verified acks, per device.
type ackStream map[string]chan runtime.Ack

// watchAcks subscribes to every device's acks on cl; an ack that is not
// signed by its device fails the test.
func (k *fleetKit) watchAcks(t *testing.T, cl paho.Client) ackStream {
	t.Helper()
	out := ackStream{}
	for id, d := range k.devs {
		ch := make(chan runtime.Ack, 64)
		out[id] = ch
		tok := cl.Subscribe("city/z1/"+id+"/ack", 1, func(_ paho.Client, m paho.Message) {
			env, err := signing.Parse(m.Payload(), 0)
			if err == nil {
				err = env.Verify(d.Key.Public(), m.Topic())
			}
			var a runtime.Ack
			if err == nil {
				err = json.Unmarshal(env.Payload, &a)
			}
			if err != nil {
				t.Errorf("ack of %s: %v", id, err)
				return
			}
			ch <- a
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe to acks: %v", tok.Error())
		}
	}
	return out
}

// next is the device's next ack, failing after a generous deadline (a
// liveness bound, not a timing assertion).
func (s ackStream) next(t *testing.T, device string) runtime.Ack {
	t.Helper()
	select {
	case a := <-s[device]:
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("no ack from %s", device)
		return runtime.Ack{}
	}
}

// signed is a command on its topic, with its counter.
type signed struct {
	topic string
	msg   []byte
	ctr   uint64
}

func sign(t *testing.T, op *command.Operator, device, name, payload string, iat time.Time, ttl time.Duration) signed {
	t.Helper()
	tp, msg, err := op.Sign("z1", device, name, []byte(payload), iat, ttl)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Parse(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return signed{tp, msg, env.Header.Counter}
}

// waitTwin waits until cond holds for the device's twin, re-checking on
// every durable twin change (and failing after a generous deadline).
func waitTwin(t *testing.T, srv *broker.Server, changes <-chan devices.TwinChange, device, what string, cond func(*twin.Document) bool) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if doc, ok := srv.Edge().Twin(device); ok && cond(doc) {
			return
		}
		select {
		case <-changes:
		case <-deadline:
			doc, _ := srv.Edge().Twin(device)
			t.Fatalf("%s: %s never held; twin reported %v desired %v delta %v meta %v", device, what, doc.Reported, doc.Desired, doc.Delta, doc.Meta)
		}
	}
}

func hhmm(t time.Time) string { return fmt.Sprintf("%02d:%02d", t.Hour(), t.Minute()) }

// TestEveryCatalogueCommandActsAndIsAcked: through a real Signet broker,
// every command of every kind in the catalogue reaches its simulated
// device, which acts on it (its signed reported state shows the change in
// the twin), acks it signed, and the twin records the command done,
// correlated by alice's kid and the command's counter, with no delta left.
func TestEveryCatalogueCommandActsAndIsAcked(t *testing.T) {
	k := newFleetKit(t)
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
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	changes := srv.Edge().Watch(ctx)
	k.runAll(t, srv.MQTTAddr())
	console := connect(t, srv.MQTTAddr(), "console", "admin", "pw")
	acks := k.watchAcks(t, console)
	recalibrated := make(chan struct{}, 8)
	console.Subscribe("city/z1/ld-1/evt/recalibrated", 1, func(paho.Client, paho.Message) { recalibrated <- struct{}{} }).Wait()
	alice := connect(t, srv.MQTTAddr(), "alice-console", "alice", "pw")

	reported := func(field string, want any) func(*twin.Document) bool {
		return func(d *twin.Document) bool { return fmt.Sprint(d.Reported[field]) == fmt.Sprint(want) }
	}
	now := time.Now()
	steps := []struct {
		device, name, payload string
		shows                 string
		acted                 func(*twin.Document) bool // the device's reported change
	}{
		{"sl-1", "set-level", `{"level":37}`, "level 37", reported("level", 37)},
		{"sl-1", "schedule", fmt.Sprintf(`{"on":%q,"off":%q,"level":60}`, hhmm(now.Add(-time.Hour)), hhmm(now.Add(time.Hour))), "mode schedule at 60", func(d *twin.Document) bool {
			return reported("mode", "schedule")(d) && reported("level", 60)(d)
		}},
		{"sl-1", "set-level", `{"level":20}`, "level 20", reported("level", 20)},
		{"sl-1", "cancel", `{"command":"set-level"}`, "back on the schedule", reported("mode", "schedule")},
		{"ts-1", "hold-phase", `{"group":"2","seconds":8}`, "the hold", func(d *twin.Document) bool {
			h, _ := d.Reported["hold"].(map[string]any)
			return h["group"] == "2"
		}},
		{"ts-1", "cancel", `{"command":"hold-phase"}`, "no hold", func(d *twin.Document) bool { _, held := d.Reported["hold"]; return !held }},
		{"ts-1", "set-plan", `{"plan":"fast"}`, "plan fast", reported("plan", "fast")},
		{"ts-1", "flash", `{"reason":"acceptance test"}`, "mode flash", reported("mode", "flash")},
		{"ts-1", "resume", `{}`, "mode normal", reported("mode", "normal")},
		{"ld-1", "recalibrate", `{}`, "", nil},
		{"ld-1", "cancel", `{"command":"recalibrate"}`, "", nil},
		{"aq-1", "set-interval", `{"seconds":30}`, "interval 30", reported("interval_s", 30)},
		{"aq-1", "cancel", `{"command":"set-interval"}`, "", nil},
	}
	covered := map[string]bool{}
	for _, s := range steps {
		c := sign(t, k.alice, s.device, s.name, s.payload, time.Now(), 30*time.Second)
		publish(t, alice, c.topic, c.msg)
		if a := acks.next(t, s.device); a.Status != "done" || a.Command != s.name || a.Counter != c.ctr || a.KID != signing.FormatKeyID(k.alice.KID) {
			t.Fatalf("%s %s: ack %+v, want done for counter %d", s.device, s.name, a, c.ctr)
		}
		if s.acted != nil {
			waitTwin(t, srv, changes, s.device, s.name+" shows "+s.shows, s.acted)
		}
		// Or the signed event the device publishes when it has done it.
		if ev, ok := map[string]<-chan struct{}{"recalibrate": recalibrated}[s.name]; ok {
			select {
			case <-ev:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s %s: the device never published what it did", s.device, s.name)
			}
		}
		cmd, _ := catalog.Lookup(kindOf(s.device))
		entry, _ := cmd.Command(s.name)
		waitTwin(t, srv, changes, s.device, s.name+" done in meta", func(d *twin.Document) bool {
			life := d.Meta.Commands[s.name]
			for _, f := range entry.Sets {
				if _, pending := d.Delta[f]; pending && s.name != catalog.Cancel {
					return false
				}
			}
			return life.Status == twin.StatusDone && life.Ctr == c.ctr && life.AckTS != nil
		})
		covered[kindOf(s.device)+"/"+s.name] = true
	}
	for _, kind := range catalog.Kinds() {
		for _, name := range kind.Names() {
			if !covered[kind.Name+"/"+name] {
				t.Errorf("no step sends %s to a %s", name, kind.Name)
			}
		}
	}
	for id, d := range k.devs {
		if d.Stats.CmdRefused.Load() != 0 {
			t.Errorf("%s refused %d good commands", id, d.Stats.CmdRefused.Load())
		}
		if doc, _ := srv.Edge().Twin(id); len(doc.Security.Rejected) != 0 {
			t.Errorf("%s: the broker rejected its messages: %v", id, doc.Security.Rejected)
		}
	}
}

func kindOf(device string) string {
	return map[string]string{"ts": "traffic-signal", "sl": "streetlight", "ld": "loop-detector", "aq": "air-quality"}[device[:2]]
}

// attack is a command that must be refused, by the broker and by the device.
type attack struct {
	name         string
	device       string
	brokerReason signing.Reason
	deviceReason signing.Reason
	make         func(t *testing.T, k *fleetKit, last map[string]signed) signed
}

// attacks are the forged, stale, out-of-scope and unsafe commands. last holds
// the latest honest command sent to each device (for the replay).
func attacks() []attack {
	now := time.Now
	good := func(device, name, payload string) func(*testing.T, *fleetKit, map[string]signed) signed {
		return func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
			return sign(t, k.alice, device, name, payload, now(), 30*time.Second)
		}
	}
	endorsed := func(scope devices.Scope, iat, exp time.Duration, byRogue bool) func(*testing.T, *fleetKit, map[string]signed) signed {
		return func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
			by := k.authority
			if byRogue {
				by = k.rogue
			}
			op := k.operator(t, by, scope, now().Add(iat), now().Add(exp))
			return sign(t, op, "sl-1", "set-level", `{"level":5}`, now(), 30*time.Second)
		}
	}
	return []attack{
		{name: "no endorsement", device: "sl-1", brokerReason: signing.ReasonUnauthorizedCommand, deviceReason: signing.ReasonUnauthorizedCommand,
			make: func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
				bare := &command.Operator{Key: k.aliceKey, KID: k.alice.KID, Counter: k.alice.Counter}
				return sign(t, bare, "sl-1", "set-level", `{"level":5}`, now(), 30*time.Second)
			}},
		{name: "endorsed by a key that is no authority", device: "sl-1", brokerReason: signing.ReasonUnauthorizedCommand, deviceReason: signing.ReasonUnauthorizedCommand,
			make: endorsed(allOfZ1, -time.Minute, time.Hour, true)},
		{name: "expired endorsement", device: "sl-1", brokerReason: signing.ReasonExpired, deviceReason: signing.ReasonExpired,
			make: endorsed(allOfZ1, -2*time.Hour, -time.Hour, false)},
		{name: "endorsement issued in the future", device: "sl-1", brokerReason: signing.ReasonExpired, deviceReason: signing.ReasonExpired,
			make: endorsed(allOfZ1, time.Hour, 2*time.Hour, false)},
		{name: "zone out of the endorsed scope", device: "sl-1", brokerReason: signing.ReasonUnauthorizedCommand, deviceReason: signing.ReasonUnauthorizedCommand,
			make: endorsed(devices.Scope{Zones: []string{"z2"}, Kinds: []string{"*"}, Commands: []string{"*"}}, -time.Minute, time.Hour, false)},
		{name: "kind out of the endorsed scope", device: "sl-1", brokerReason: signing.ReasonUnauthorizedCommand, deviceReason: signing.ReasonUnauthorizedCommand,
			make: endorsed(devices.Scope{Zones: []string{"z1"}, Kinds: []string{"air-quality"}, Commands: []string{"*"}}, -time.Minute, time.Hour, false)},
		{name: "name out of the endorsed scope", device: "sl-1", brokerReason: signing.ReasonUnauthorizedCommand, deviceReason: signing.ReasonUnauthorizedCommand,
			make: endorsed(devices.Scope{Zones: []string{"z1"}, Kinds: []string{"*"}, Commands: []string{"schedule"}}, -time.Minute, time.Hour, false)},
		{name: "a field the name does not own", device: "ts-1", brokerReason: signing.ReasonUnsafeCommand, deviceReason: signing.ReasonUnsafeCommand,
			make: good("ts-1", "set-plan", `{"plan":"fast","mode":"flash"}`)},
		{name: "the fields of another command only", device: "ts-1", brokerReason: signing.ReasonUnsafeCommand, deviceReason: signing.ReasonUnsafeCommand,
			make: good("ts-1", "set-plan", `{"mode":"flash"}`)},
		{name: "bad signature", device: "sl-1", brokerReason: signing.ReasonBadSignature, deviceReason: signing.ReasonBadSignature,
			make: func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
				c := sign(t, k.alice, "sl-1", "set-level", `{"level":5}`, now(), 30*time.Second)
				c.msg[len(c.msg)-1] ^= 1
				return c
			}},
		{name: "replayed command", device: "sl-1", brokerReason: signing.ReasonReplay, deviceReason: signing.ReasonReplay,
			make: func(_ *testing.T, _ *fleetKit, last map[string]signed) signed { return last["sl-1"] }},
		{name: "expired command", device: "sl-1", brokerReason: signing.ReasonExpired, deviceReason: signing.ReasonExpired,
			make: func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
				return sign(t, k.alice, "sl-1", "set-level", `{"level":5}`, now().Add(-2*time.Minute), 30*time.Second)
			}},
		{name: "command living longer than 60 s", device: "sl-1", brokerReason: signing.ReasonExpired, deviceReason: signing.ReasonExpired,
			make: func(t *testing.T, k *fleetKit, _ map[string]signed) signed {
				return sign(t, k.alice, "sl-1", "set-level", `{"level":5}`, now(), 5*time.Minute)
			}},
		{name: "unsafe: a plan with conflicting greens", device: "ts-1", brokerReason: signing.ReasonUnsafeCommand, deviceReason: signing.ReasonUnsafeCommand,
			make: good("ts-1", "set-plan", `{"plan":"bad"}`)},
		{name: "unsafe: a hold longer than its maximum", device: "ts-1", brokerReason: signing.ReasonUnsafeCommand, deviceReason: signing.ReasonUnsafeCommand,
			make: good("ts-1", "hold-phase", `{"group":"2","seconds":11}`)},
		{name: "unsafe: a level out of range", device: "sl-1", brokerReason: signing.ReasonUnsafeCommand, deviceReason: signing.ReasonUnsafeCommand,
			make: good("sl-1", "set-level", `{"level":500}`)},
	}
}

// honest is a harmless good command for a device, sent after each attack:
// the device must ack it next (so the attack never reached it, or was
// refused by it), and it must be done (an honest operator keeps working).
func honest(t *testing.T, k *fleetKit, device string, i int) signed {
	if device == "ts-1" {
		return sign(t, k.alice, device, "cancel", `{"command":"hold-phase"}`, time.Now(), 30*time.Second)
	}
	return sign(t, k.alice, device, "set-level", fmt.Sprintf(`{"level":%d}`, 10+i), time.Now(), 30*time.Second)
}

// TestForgedCommandsRefusedByBrokerAndDevice walks every attack twice: sent
// to a real Signet broker, which refuses it with its reason so that it never
// reaches the device; and sent straight to the device through a plain mochi
// broker that checks nothing, where the device refuses it itself with a
// signed "refused" ack. After each, alice's honest command is the next one
// the device acts on.
func TestForgedCommandsRefusedByBrokerAndDevice(t *testing.T) {
	t.Run("broker", func(t *testing.T) {
		k := newFleetKit(t)
		hash, err := broker.HashPassword("pw")
		if err != nil {
			t.Fatal(err)
		}
		srv := brokertest.Start(t, k.store, func(cfg *broker.Config) {
			cfg.Users = []broker.User{
				{Name: "alice", Role: broker.RoleOperator, Zones: []string{"z1"}, PasswordHash: hash},
				{Name: "admin", Role: broker.RoleAdmin, PasswordHash: hash},
				{Name: "audit", Role: broker.RoleAuditor, PasswordHash: hash},
			}
		})
		k.runAll(t, srv.MQTTAddr())
		acks := k.watchAcks(t, connect(t, srv.MQTTAddr(), "console", "admin", "pw"))
		events := make(chan audit.Event, 256)
		connect(t, srv.MQTTAddr(), "auditor", "audit", "pw").Subscribe(broker.EventsTopic, 1, func(_ paho.Client, m paho.Message) {
			var ev audit.Event
			if json.Unmarshal(m.Payload(), &ev) == nil && ev.Kind == "rejected" {
				events <- ev
			}
		}).Wait()
		alice := connect(t, srv.MQTTAddr(), "alice-console", "alice", "pw")
		last := map[string]signed{}
		for i, a := range attacks() {
			if a.name == "replayed command" && last[a.device].msg == nil {
				t.Fatal("the replay needs an honest command before it")
			}
			c := a.make(t, k, last)
			publish(t, alice, c.topic, c.msg)
			select {
			case ev := <-events:
				if ev.Reason != string(a.brokerReason) || ev.Topic != c.topic {
					t.Fatalf("%s: broker refused with %s on %s (%s), want %s", a.name, ev.Reason, ev.Topic, ev.Detail, a.brokerReason)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: no security event", a.name)
			}
			h := honest(t, k, a.device, i)
			publish(t, alice, h.topic, h.msg)
			if ack := acks.next(t, a.device); ack.Status != "done" || ack.Counter != h.ctr {
				t.Fatalf("%s: next ack %+v, want done for the honest counter %d (the attack reached the device?)", a.name, ack, h.ctr)
			}
			last[a.device] = h
		}
		for id, d := range k.devs {
			if d.Stats.CmdRefused.Load() != 0 {
				t.Errorf("%s saw %d commands it refused: the broker let attacks through", id, d.Stats.CmdRefused.Load())
			}
		}
	})
	t.Run("device, broker bypassed", func(t *testing.T) {
		k := newFleetKit(t)
		plain, addr := brokertest.Plain(t)
		t.Cleanup(func() { plain.Close() })
		k.runAll(t, addr)
		acks := k.watchAcks(t, connect(t, addr, "watcher", "", ""))
		attacker := connect(t, addr, "attacker", "", "")
		last := map[string]signed{}
		done := map[string]uint64{}
		for i, a := range attacks() {
			c := a.make(t, k, last)
			publish(t, attacker, c.topic, c.msg)
			if ack := acks.next(t, a.device); ack.Status != "refused" || ack.Reason != string(a.deviceReason) {
				t.Fatalf("%s: device ack %+v, want refused %s", a.name, ack, a.deviceReason)
			}
			h := honest(t, k, a.device, i)
			publish(t, attacker, h.topic, h.msg)
			if ack := acks.next(t, a.device); ack.Status != "done" || ack.Counter != h.ctr {
				t.Fatalf("%s: then ack %+v, want done for the honest counter %d", a.name, ack, h.ctr)
			}
			last[a.device] = h
			done[a.device]++
		}
		for id, n := range done {
			if got := k.devs[id].Stats.CmdDone.Load(); got != n {
				t.Errorf("%s acted on %d commands, want exactly the %d honest ones", id, got, n)
			}
		}
	})
}

// TestHostileBrokerCannotMakeADeviceAct: a compromised broker holds alice's
// genuine commands and rewrites them (another argument, another name on the
// topic), re-targets them to another device, or replays them. The devices
// act on none of it, and alice's genuine commands still work.
func TestHostileBrokerCannotMakeADeviceAct(t *testing.T) {
	k := newFleetKit(t)
	plain, addr := brokertest.Plain(t)
	t.Cleanup(func() { plain.Close() })
	k.runAll(t, addr)
	acks := k.watchAcks(t, connect(t, addr, "watcher", "", ""))
	mitm := connect(t, addr, "hostile-broker", "", "")

	genuine := sign(t, k.alice, "sl-1", "set-level", `{"level":30}`, time.Now(), 30*time.Second)
	publish(t, mitm, genuine.topic, genuine.msg)
	if a := acks.next(t, "sl-1"); a.Status != "done" || a.Counter != genuine.ctr {
		t.Fatalf("genuine command: ack %+v", a)
	}
	rewrite := func(from, to string) []byte {
		if !bytes.Contains(genuine.msg, []byte(from)) {
			t.Fatalf("no %q in the command", from)
		}
		return bytes.Replace(genuine.msg, []byte(from), []byte(to), 1)
	}
	cases := []struct {
		name, device, topic string
		msg                 []byte
	}{
		{"replayed as is", "sl-1", genuine.topic, genuine.msg},
		{"argument rewritten", "sl-1", genuine.topic, rewrite(`{"level":30}`, `{"level":99}`)},
		{"name rewritten on the topic", "sl-1", "city/z1/sl-1/cmd/cancel", genuine.msg},
		{"re-targeted to another device", "sl-2", "city/z1/sl-2/cmd/set-level", genuine.msg},
	}
	for _, c := range cases {
		publish(t, mitm, c.topic, c.msg)
		if a := acks.next(t, c.device); a.Status != "refused" {
			t.Fatalf("%s: %s acked %+v, want refused", c.name, c.device, a)
		}
	}
	if n := k.devs["sl-1"].Stats.CmdDone.Load() + k.devs["sl-2"].Stats.CmdDone.Load(); n != 1 {
		t.Fatalf("devices acted on %d commands, want only the genuine one", n)
	}
	for i, dev := range []string{"sl-1", "sl-2"} {
		h := honest(t, k, dev, 50+i)
		publish(t, mitm, h.topic, h.msg)
		if a := acks.next(t, dev); a.Status != "done" || a.Counter != h.ctr {
			t.Fatalf("%s: honest command after the attacks: ack %+v", dev, a)
		}
	}
}

// TestTwinShowsRefusedExpiredAndCancelledCommands: a command the device
// refuses shows "refused" with the device's reason; one its device never
// answers shows "expired" once its exp has passed; a pending one that is
// cancelled shows "cancelled". In each case the desired value is withdrawn,
// so no delta stays behind, while the honest traffic goes on.
func TestTwinShowsRefusedExpiredAndCancelledCommands(t *testing.T) {
	k := newFleetKit(t)
	// sl-2 has just rebooted (as its verifier sees it): it refuses every
	// command issued before, as a possible replay of its previous life.
	k.devs["sl-2"].Commands.Boot = time.Now().Add(time.Hour)
	// aq-1 is on line but does not take commands: nothing answers them.
	silent := k.devs["aq-1"]
	delete(k.devs, "aq-1")
	silent.Commands = nil
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
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	changes := srv.Edge().Watch(ctx)
	k.runAll(t, srv.MQTTAddr())
	silent.Broker = "tcp://" + srv.MQTTAddr()
	aq, err := silent.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runtime.Disconnect(aq) })
	acks := k.watchAcks(t, connect(t, srv.MQTTAddr(), "console", "admin", "pw"))
	alice := connect(t, srv.MQTTAddr(), "alice-console", "alice", "pw")
	status := func(name, want string, ctr uint64) func(*twin.Document) bool {
		return func(d *twin.Document) bool {
			life := d.Meta.Commands[name]
			return life.Status == want && life.Ctr == ctr && len(d.Delta) == 0
		}
	}

	refused := sign(t, k.alice, "sl-2", "set-level", `{"level":15}`, time.Now(), 30*time.Second)
	publish(t, alice, refused.topic, refused.msg)
	if a := acks.next(t, "sl-2"); a.Status != "refused" || a.Reason != string(signing.ReasonReplay) || a.Counter != refused.ctr {
		t.Fatalf("sl-2 ack %+v, want refused replay", a)
	}
	waitTwin(t, srv, changes, "sl-2", "set-level refused", status("set-level", twin.StatusRefused, refused.ctr))
	if doc, _ := srv.Edge().Twin("sl-2"); doc.Meta.Commands["set-level"].Reason != string(signing.ReasonReplay) || len(doc.Desired) != 0 {
		t.Fatalf("sl-2 meta %+v desired %v", doc.Meta.Commands["set-level"], doc.Desired)
	}

	pending := sign(t, k.alice, "aq-1", "set-interval", `{"seconds":60}`, time.Now(), 30*time.Second)
	publish(t, alice, pending.topic, pending.msg)
	waitTwin(t, srv, changes, "aq-1", "set-interval pending", func(d *twin.Document) bool {
		return d.Meta.Commands["set-interval"].Status == twin.StatusPending && d.Desired["interval_s"] == 60.0
	})
	cancelIt := sign(t, k.alice, "aq-1", "cancel", `{"command":"set-interval"}`, time.Now(), 30*time.Second)
	publish(t, alice, cancelIt.topic, cancelIt.msg)
	waitTwin(t, srv, changes, "aq-1", "set-interval cancelled", status("set-interval", twin.StatusCancelled, pending.ctr))

	short := sign(t, k.alice, "aq-1", "set-interval", `{"seconds":120}`, time.Now(), time.Second)
	publish(t, alice, short.topic, short.msg)
	// The broker notices expiry on the device's next accepted message:
	// aq-1 keeps publishing readings until the twin shows it.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if doc, _ := srv.Edge().Twin("aq-1"); status("set-interval", twin.StatusExpired, short.ctr)(doc) {
			if _, left := doc.Desired["interval_s"]; left {
				t.Fatalf("an expired command left desired %v", doc.Desired)
			}
			break
		}
		if time.Now().After(deadline) {
			doc, _ := srv.Edge().Twin("aq-1")
			t.Fatalf("set-interval never expired: meta %v", doc.Meta)
		}
		if err := silent.Publish(ctx, aq, model.Publication{Class: topic.Tele, Name: "air", Payload: []byte(`{"pm25":9,"units":{"pm25":"ug/m3"}}`)}); err != nil {
			t.Fatal(err)
		}
	}

	// Meanwhile the honest path works: sl-1 takes a command and is done.
	h := sign(t, k.alice, "sl-1", "set-level", `{"level":44}`, time.Now(), 30*time.Second)
	publish(t, alice, h.topic, h.msg)
	waitTwin(t, srv, changes, "sl-1", "set-level done", status("set-level", twin.StatusDone, h.ctr))
}
