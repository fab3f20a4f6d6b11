package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// twinDoc is the payload of $twin/{zone}/{device} as a subscriber reads it.
type twinDoc struct {
	Device   string         `json:"device"`
	Version  uint64         `json:"version"`
	Reported map[string]any `json:"reported"`
	Desired  map[string]any `json:"desired"`
	Delta    map[string]any `json:"delta"`
	Meta     twin.Meta      `json:"meta"`
}

// levelOf is the level a test message with counter ctr carries: the value
// alone says which message set it, so a document that shows the value of
// one message beside the provenance of another mixes two versions.
func levelOf(ctr uint64) float64 { return float64(ctr % 101) }

// signAt signs payload(ctr) with d's next counter.
func signAt(t *testing.T, d *device, topic string, payload func(ctr uint64) []byte) ([]byte, uint64) {
	t.Helper()
	ctr := d.ctr.Add(1)
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: ctr}, payload(ctr), topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg, ctr
}

// TestTwinDocumentTopicIsVersionConsistent: while a device reports a new
// level and an operator sets desired levels at the same time, subscribers
// of $twin/z1/sl-1 over MQTT 5 and MQTT 3.1.1 see each version once, in
// increasing order, and every document is one version's: its reported
// level is the one its reported provenance names, its desired level the
// one its desired provenance names, its delta follows from the two, and an
// operator's desired.level never hides who reported level. Part messages
// carry their version too.
func TestTwinDocumentTopicIsVersionConsistent(t *testing.T) {
	c, k := startCommandCity(t)
	v5 := c.connect5(t, "viewer-5", "viewer-z1", testPassword, nil)
	docs5 := subscribe5(t, v5, "$twin/z1/sl-1")
	v3 := c.connect(t, "viewer-3", "viewer-z1")
	docs3 := subscribe(t, v3, "$twin/z1/sl-1")
	parts := subscribe(t, v3, "$twin/z1/sl-1/reported")
	dev := c.connect(t, "sl-1", "")
	alice := c.connect(t, "alice-console", "alice")
	devKID, opKID := signing.FormatKeyID(c.devs["sl-1"].kid), signing.FormatKeyID(k.op.kid)
	endorsement := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, time.Now().Add(time.Hour))

	const states, commands = 40, 12
	var wg sync.WaitGroup
	wg.Go(func() {
		for range states {
			msg, _ := signAt(t, c.devs["sl-1"], "city/z1/sl-1/state", func(ctr uint64) []byte {
				return fmt.Appendf(nil, `{"on":true,"level":%v}`, levelOf(ctr))
			})
			publish(t, dev, "city/z1/sl-1/state", 1, msg)
		}
	})
	wg.Go(func() {
		for range commands {
			now := time.Now()
			ctr := k.op.ctr.Load() + 1 // command() takes it
			msg := k.command(t, k.op, "city/z1/sl-1/cmd/set-level", fmt.Appendf(nil, `{"level":%v}`, levelOf(ctr)), endorsement, now, now.Add(30*time.Second))
			publish(t, alice, "city/z1/sl-1/cmd/set-level", 1, msg)
		}
	})
	wg.Wait()
	final, _ := c.srv.Edge().Twin("sl-1")

	check := func(name string, next func() []byte) {
		var last uint64
		seen := 0
		for last < final.Version {
			var d twinDoc
			if err := json.Unmarshal(next(), &d); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d.Version <= last {
				t.Fatalf("%s: version %d after %d", name, d.Version, last)
			}
			last = d.Version
			seen++
			if rl, ok := d.Reported["level"]; ok {
				m, _ := d.Meta.Reported.At("level")
				if m.KID != devKID || rl != levelOf(m.Ctr) {
					t.Fatalf("%s v%d: reported.level %v but its provenance is %+v", name, d.Version, rl, m)
				}
			}
			if dl, ok := d.Desired["level"]; ok {
				m, _ := d.Meta.Desired.At("level")
				if m.KID != opKID || m.Command != "set-level" || dl != levelOf(m.Ctr) {
					t.Fatalf("%s v%d: desired.level %v but its provenance is %+v", name, d.Version, dl, m)
				}
				if want, differs := dl, dl != d.Reported["level"]; differs != (d.Delta["level"] != nil) || (differs && d.Delta["level"] != want) {
					t.Fatalf("%s v%d: delta %v for desired %v reported %v", name, d.Version, d.Delta, d.Desired, d.Reported)
				}
			}
		}
		if last != final.Version || seen < 2 {
			t.Fatalf("%s: ended at version %d after %d documents, want %d", name, last, seen, final.Version)
		}
	}
	check("MQTT 5", func() []byte { return next5(t, docs5).Payload })
	check("MQTT 3.1.1", func() []byte { return docs3.next(t).Payload() })
	if final.Version < states {
		t.Fatalf("final version %d: the honest changes did not all land", final.Version)
	}
	for {
		var p struct {
			Version  uint64         `json:"version"`
			Reported map[string]any `json:"reported"`
		}
		if err := json.Unmarshal(parts.next(t).Payload(), &p); err != nil {
			t.Fatal(err)
		}
		if p.Version == 0 || p.Reported == nil {
			t.Fatalf("part message without its version: %+v", p)
		}
		if p.Version == final.Version {
			break
		}
	}
}

// TestDesiredKeepsReportedProvenance: an operator's desired.level is
// recorded beside, not over, the device's provenance for reported.level,
// in the twin and on the document topic.
func TestDesiredKeepsReportedProvenance(t *testing.T) {
	c, k := startCommandCity(t)
	viewer := c.connect(t, "viewer-1", "viewer-z1")
	docs := subscribe(t, viewer, "$twin/z1/sl-1")
	dev := c.connect(t, "sl-1", "")
	alice := c.connect(t, "alice-console", "alice")
	state, stateCtr := signAt(t, c.devs["sl-1"], "city/z1/sl-1/state", func(uint64) []byte { return []byte(`{"on":true,"level":10}`) })
	publish(t, dev, "city/z1/sl-1/state", 1, state)
	now := time.Now()
	cmd := k.command(t, k.op, "city/z1/sl-1/cmd/set-level", []byte(`{"level":40}`),
		k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour)), now, now.Add(30*time.Second))
	publish(t, alice, "city/z1/sl-1/cmd/set-level", 1, cmd)
	var d twinDoc
	for d.Desired["level"] == nil {
		d = twinDoc{} // Unmarshal would merge into the maps of the one before
		if err := json.Unmarshal(docs.next(t).Payload(), &d); err != nil {
			t.Fatal(err)
		}
	}
	rep, _ := d.Meta.Reported.At("level")
	des, _ := d.Meta.Desired.At("level")
	if rep.KID != signing.FormatKeyID(c.devs["sl-1"].kid) || rep.Ctr != stateCtr || rep.Command != "" {
		t.Fatalf("meta.reported.level = %+v after desired.level, want the device's counter %d", rep, stateCtr)
	}
	if des.KID != signing.FormatKeyID(k.op.kid) || des.Command != "set-level" || d.Meta.Commands["set-level"].Status != twin.StatusPending {
		t.Fatalf("meta.desired.level = %+v, commands %+v", des, d.Meta.Commands)
	}
	// The device keeps working: its next report is taken, and the level
	// leaves the delta.
	next, _ := signAt(t, c.devs["sl-1"], "city/z1/sl-1/state", func(uint64) []byte { return []byte(`{"level":40}`) })
	publish(t, dev, "city/z1/sl-1/state", 1, next)
	for d.Reported["level"] != 40.0 || d.Delta["level"] != nil {
		d = twinDoc{} // Unmarshal would merge into the maps of the one before
		if err := json.Unmarshal(docs.next(t).Payload(), &d); err != nil {
			t.Fatal(err)
		}
	}
}

// rejectedMsg is a message on $twin/{zone}/{device}/rejected.
type rejectedMsg struct {
	Reason     string `json:"reason"`
	Field      string `json:"field"`
	Counter    uint64 `json:"counter"`
	Topic      string `json:"topic"`
	Suppressed uint64 `json:"suppressed"`
}

// TestRejectedTopic: a replayed state message of sl-1 is told, with its
// reason, field and counter, on $twin/z1/sl-1/rejected to the device
// itself (MQTT 3.1.1, which has no reason codes) and to a z1 viewer, and
// to nobody else: not another device of the zone, not a device or viewer
// of another zone, not a gateway. An MQTT 5 device also reads the reason in
// its PUBACK. The honest device keeps working meanwhile.
func TestRejectedTopic(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.Users = append(cfg.Users, broker.User{Name: "viewer-z2", Role: broker.RoleViewer, Zones: []string{"z2"}, PasswordHash: passwordHash(t)})
	})
	const tp = "city/z1/sl-1/state"
	dev := c.connect(t, "sl-1", "")
	own := subscribe(t, dev, "$twin/z1/sl-1/rejected")
	viewer := c.connect(t, "viewer-1", "viewer-z1")
	zoneView := subscribe(t, viewer, "$twin/z1/+/rejected")
	type outsider struct {
		name string
		got  *collector
		mark *collector
	}
	var outsiders []outsider
	for _, o := range []struct{ id, user string }{{"sl-2", ""}, {"aq-9", ""}, {"viewer-2", "viewer-z2"}, {"gw-1", "gw"}} {
		cl := c.connect(t, o.id, o.user)
		outsiders = append(outsiders, outsider{o.id, subscribe(t, cl, "$twin/#"), subscribe(t, cl, "marker/done")})
		subscribe(t, cl, "$twin/z1/sl-1/rejected") // by name too
	}

	good, ctr := signAt(t, c.devs["sl-1"], tp, func(uint64) []byte { return []byte(`{"level":20}`) })
	publish(t, dev, tp, 1, good)
	publish(t, dev, tp, 1, good) // the same message again: a replay
	for _, col := range []*collector{own, zoneView} {
		var m rejectedMsg
		if err := json.Unmarshal(col.next(t).Payload(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Reason != string(signing.ReasonReplay) || m.Field != "protected.piv" || m.Counter != ctr || m.Topic != tp {
			t.Fatalf("rejected message %+v, want replay of counter %d at protected.piv", m, ctr)
		}
	}
	// Everything published before the marker has reached each outsider
	// once the marker has: none of it may be a refusal. (Twins an outsider
	// may read, such as its own zone's retained documents, may be there.)
	publish(t, viewer, "marker/done", 1, []byte("x"))
	for _, o := range outsiders {
		o.mark.next(t)
		for drained := false; !drained; {
			select {
			case m := <-o.got.ch:
				if strings.HasSuffix(m.Topic(), "/rejected") {
					t.Errorf("%s read %s: %s", o.name, m.Topic(), m.Payload())
				}
			default:
				drained = true
			}
		}
	}

	// MQTT 5: the PUBACK says why, as its Reason String.
	d5 := c.connect5(t, "sl-2", "", "", nil)
	st2 := "city/z1/sl-2/state"
	msg2, _ := signAt(t, c.devs["sl-2"], st2, func(uint64) []byte { return []byte(`{"level":30}`) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, want := range []byte{0, 0x87} {
		pr, err := d5.Publish(ctx, &paho5.Publish{Topic: st2, QoS: 1, Payload: msg2})
		if i == 0 && (err != nil || pr.ReasonCode != 0) {
			t.Fatalf("honest MQTT 5 state: %v %+v", err, pr)
		}
		if i == 1 && (pr == nil || pr.ReasonCode != want || pr.Properties == nil || pr.Properties.ReasonString != string(signing.ReasonReplay)) {
			t.Fatalf("MQTT 5 replay: %v %+v", err, pr)
		}
	}

	// The honest device keeps working.
	next, _ := signAt(t, c.devs["sl-1"], tp, func(uint64) []byte { return []byte(`{"level":21}`) })
	publish(t, dev, tp, 1, next)
	twinNow(t, c, "sl-1", func(d *twin.Document) bool { return d.Reported["level"] == 21.0 })
}

// TestRejectedTopicIsBounded: a flood of replays publishes at most the
// configured number of refusals a second on the device's rejected topic,
// and the rest are counted in summaries, so none is lost from the count;
// the device's next honest message is taken.
func TestRejectedTopicIsBounded(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.Payload.Twin.Topics.RejectedPerSecond = 2 })
	const tp, flood = "city/z1/sl-1/state", 60
	dev := c.connect(t, "sl-1", "")
	own := subscribe(t, dev, "$twin/z1/sl-1/rejected")
	good, _ := signAt(t, c.devs["sl-1"], tp, func(uint64) []byte { return []byte(`{"level":20}`) })
	publish(t, dev, tp, 1, good)
	for range flood {
		publish(t, dev, tp, 0, good)
	}
	var single, counted uint64
	for single+counted < flood {
		var m rejectedMsg
		if err := json.Unmarshal(own.next(t).Payload(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Reason != string(signing.ReasonReplay) {
			t.Fatalf("rejected %+v, want replay", m)
		}
		if m.Suppressed > 0 {
			counted += m.Suppressed
		} else {
			single++
		}
	}
	if single+counted != flood || single == flood {
		t.Fatalf("%d published and %d counted, want %d in all and not every one published", single, counted, flood)
	}
	next, _ := signAt(t, c.devs["sl-1"], tp, func(uint64) []byte { return []byte(`{"level":22}`) })
	publish(t, dev, tp, 1, next)
	twinNow(t, c, "sl-1", func(d *twin.Document) bool { return d.Reported["level"] == 22.0 })
}

// TestCommandIfVersion: a command that names the twin version it was
// decided on is taken while the twin is at that version and refused as
// stale_version once the twin has moved on, over MQTT 3.1.1 (no forward, a
// security event) and MQTT 5 (PUBACK 0x87 with the reason); the stale one
// reaches neither the device nor desired, and a command without a version
// works as before.
func TestCommandIfVersion(t *testing.T) {
	c, k := startCommandCity(t)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	dev := c.connect(t, "sl-1", "")
	cmds := subscribe(t, dev, "city/z1/sl-1/cmd/#")
	alice := c.connect(t, "alice-console", "alice")
	alice5 := c.connect5(t, "alice-5", "alice", testPassword, nil)
	const tp = "city/z1/sl-1/cmd/set-level"
	endorsement := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, time.Now().Add(time.Hour))
	command := func(payload string) []byte {
		now := time.Now()
		return k.command(t, k.op, tp, []byte(payload), endorsement, now, now.Add(30*time.Second))
	}
	state := func(level int) {
		msg, _ := signAt(t, c.devs["sl-1"], "city/z1/sl-1/state", func(uint64) []byte { return fmt.Appendf(nil, `{"level":%d}`, level) })
		publish(t, dev, "city/z1/sl-1/state", 1, msg)
	}
	state(10)
	seen, _ := c.srv.Edge().Twin("sl-1")

	fresh := command(fmt.Sprintf(`{"level":40,"if_version":%d}`, seen.Version))
	publish(t, alice, tp, 1, fresh)
	if m := cmds.next(t); string(m.Payload()) != string(fresh) {
		t.Fatal("the device did not get the fresh command")
	}
	decided, _ := c.srv.Edge().Twin("sl-1")
	if decided.Desired["level"] != 40.0 {
		t.Fatalf("desired after the fresh command: %v", decided.Desired)
	}

	state(11) // the twin moves on
	stale := command(fmt.Sprintf(`{"level":70,"if_version":%d}`, decided.Version))
	publish(t, alice, tp, 1, stale)
	if ev := nextEvent(t, events); ev.Reason != string(signing.ReasonStaleVersion) || ev.Topic != tp {
		t.Fatalf("stale command: event %+v, want stale_version", ev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, err := alice5.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: command(fmt.Sprintf(`{"level":71,"if_version":%d}`, decided.Version))})
	if pr == nil || pr.ReasonCode != 0x87 || pr.Properties == nil || pr.Properties.ReasonString != string(signing.ReasonStaleVersion) {
		t.Fatalf("stale command over MQTT 5: %v %+v", err, pr)
	}
	if ev := nextEvent(t, events); ev.Reason != string(signing.ReasonStaleVersion) {
		t.Fatalf("stale MQTT 5 command: event %+v", ev)
	}

	// No version: as today. It is the next thing the device gets, so the
	// stale ones never reached it.
	plain := command(`{"level":55}`)
	publish(t, alice, tp, 1, plain)
	if m := cmds.next(t); string(m.Payload()) != string(plain) {
		t.Fatalf("the device got %x, want the command without a version", m.Payload())
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Desired["level"] != 55.0 {
		t.Fatalf("desired %v, want 55 (never 70 or 71)", doc.Desired)
	}
}

// twinNow checks the device's twin right after a QoS 1 publish returned:
// the broker acknowledges a state message only once its twin change is made
// (and durable), so no waiting is needed.
func twinNow(t *testing.T, c *city, device string, ok func(*twin.Document) bool) {
	t.Helper()
	if d, found := c.srv.Edge().Twin(device); !found || !ok(d) {
		t.Fatalf("twin of %s after its acknowledged message: %+v", device, d)
	}
}

// TestCommandIfVersionOverHTTP: POST /api/v1/devices/{id}/commands answers
// 409 stale_version for a command signed with a twin version the twin has
// moved on from, and 400 when the body's if_version is not the signed one;
// neither reaches the device. A console that reads the version and sends
// at once, as an optimistic-locking client does (again on 409), gets its
// command done by the simulated device, which takes if_version among the
// catalogue's arguments.
func TestCommandIfVersionOverHTTP(t *testing.T) {
	c := startCommandAPICity(t)
	tp, env := c.sign(t, c.alice, "sl-1", "set-level", `{"level":40}`)
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp, env)); code != http.StatusOK {
		t.Fatalf("honest command: %d %v", code, out)
	}
	<-c.verdicts
	doc, _ := c.srv.Edge().Twin("sl-1")
	old := doc.Version - 1 // it has moved on from there: the command and its ack
	tp, env = c.sign(t, c.alice, "sl-1", "set-level", fmt.Sprintf(`{"level":41,"if_version":%d}`, old))
	code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp, env))
	if code != http.StatusConflict || out["reason"] != string(signing.ReasonStaleVersion) || !strings.Contains(fmt.Sprint(out["error"]), "if_version") {
		t.Fatalf("stale command: %d %v, want 409 stale_version", code, out)
	}
	_, env = c.sign(t, c.alice, "sl-1", "set-level", fmt.Sprintf(`{"level":42,"if_version":%d}`, doc.Version))
	body := fmt.Sprintf(`{"name":"set-level","envelope":%q,"if_version":%d}`, env, doc.Version+1)
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", body); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), "signed command says") {
		t.Fatalf("body and signature disagree: %d %v, want 400", code, out)
	}
	for try := 0; ; try++ {
		doc, _ := c.srv.Edge().Twin("sl-1")
		_, env := c.sign(t, c.alice, "sl-1", "set-level", fmt.Sprintf(`{"level":43,"if_version":%d}`, doc.Version))
		code, out := c.post(t, "alice-token", "sl-1", "application/json", fmt.Sprintf(`{"name":"set-level","envelope":%q,"if_version":%d}`, env, doc.Version))
		if code == http.StatusOK {
			if ack, _ := out["ack"].(map[string]any); ack["status"] != "done" {
				t.Fatalf("fresh command: %v", out)
			}
			break
		}
		if code != http.StatusConflict || try == 20 {
			t.Fatalf("fresh command, try %d: %d %v", try, code, out)
		}
	}
	if r := <-c.verdicts; r != "" {
		t.Fatalf("the device refused the fresh command: %s", r)
	}
	if got := c.dev.Stats.CmdDone.Load() + c.dev.Stats.CmdRefused.Load(); got != 2 {
		t.Fatalf("the device saw %d commands, want the 2 accepted ones", got)
	}
}
