package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// signWith signs a device message with extra protected-header fields.
func (d *device) signWith(t testing.TB, topic string, payload []byte, set func(*signing.Header)) []byte {
	t.Helper()
	h := signing.Header{KID: d.kid, Counter: d.ctr.Add(1)}
	set(&h)
	msg, err := signing.Sign(d.key, h, payload, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// publish5 publishes at QoS 1 and returns the PUBACK's reason code.
func publish5(t *testing.T, cl *client5, topic string, payload []byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := cl.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: payload})
	if err != nil && resp == nil {
		t.Fatalf("publish %.60s: %v", topic, err)
	}
	return resp.ReasonCode
}

// refusal is what a hostile message must get: its PUBACK reason code and
// one security event with its reason and a detail saying why.
type refusal struct {
	name    string
	topic   string
	payload []byte
	code    byte
	reason  signing.Reason
	detail  string
}

// expectRefused publishes each case from cl and checks its PUBACK and its
// security event, in order; any extra event would be read in place of a
// later case's.
func expectRefused(t *testing.T, cl *client5, events *collector, cases []refusal) {
	t.Helper()
	for _, rc := range cases {
		if code := publish5(t, cl, rc.topic, rc.payload); code != rc.code {
			t.Errorf("%s: PUBACK reason 0x%02x, want 0x%02x", rc.name, code, rc.code)
		}
		ev := nextEvent(t, events)
		if ev.Reason != string(rc.reason) || !strings.Contains(ev.Detail, rc.detail) {
			t.Errorf("%s: event %s (%.200s), want %s with %q", rc.name, ev.Reason, ev.Detail, rc.reason, rc.detail)
		}
		if len(ev.Detail) > 1024 {
			t.Errorf("%s: event detail of %d bytes", rc.name, len(ev.Detail))
		}
	}
}

// TestPayloadsAreStrictJSON: a state or command payload that two JSON
// parsers could read differently (duplicate member names, trailing data,
// invalid UTF-8) is refused, with invalid_state for state and
// unsafe_command for a command, even when the value the broker's own
// profile check would read is a safe one; honest state and commands keep
// working on the same connections.
func TestPayloadsAreStrictJSON(t *testing.T) {
	c, k := startCommandCity(t)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	dev := c.connect5(t, "sl-1", "", "", nil)
	cmds := subscribe(t, c.connect(t, "sl-1-cmds", "admin"), "city/z1/sl-1/cmd/#")

	const st = "city/z1/sl-1/state"
	state := func(p string) []byte { return d.sign(t, st, []byte(p)) }
	expectRefused(t, dev, events, []refusal{
		{"duplicate name, last value safe", st, state(`{"level":500,"level":10}`), 0x87, signing.ReasonInvalidState, "duplicate member name"},
		{"duplicate name, first value safe", st, state(`{"level":10,"level":500}`), 0x87, signing.ReasonInvalidState, "duplicate member name"},
		{"duplicate by escape", st, state(`{"on":true,"\u006fn":false}`), 0x87, signing.ReasonInvalidState, "duplicate member name"},
		{"trailing object", st, state(`{"level":10}{"level":500}`), 0x87, signing.ReasonInvalidState, "trailing data"},
		{"invalid UTF-8", st, state("{\"level\":10,\"x\xff\":1}"), 0x87, signing.ReasonInvalidState, "invalid UTF-8"},
		// The Token-based decoder let this through: it counted the escaped
		// backslash's "\\ufffd" as a U+FFFD and missed the lone surrogate.
		{"lone surrogate beside an escaped backslash", st, state(`{"level":10,"mode":"\ud800\\ufffd"}`), 0x87, signing.ReasonInvalidState, "lone UTF-16 surrogate"},
		// The detail names the path first; the audit log's field bound cuts it
		// before the words "nested deeper".
		{"nested too deep", st, state(`{"level":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`), 0x87, signing.ReasonInvalidState, "level[0][0]"},
	})
	if doc, _ := c.srv.Edge().Twin("sl-1"); len(doc.Reported) != 0 {
		t.Fatalf("a refused state changed the twin: %v", doc.Reported)
	}
	if code := publish5(t, dev, st, state(`{"level":10}`)); code != 0 {
		t.Fatalf("honest state: PUBACK 0x%02x", code)
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Reported["level"] != 10.0 {
		t.Fatalf("honest state: reported %v", doc.Reported)
	}

	const ct = "city/z1/sl-1/cmd/set-level"
	now := time.Now()
	endorsement := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour))
	command := func(p string) []byte {
		return k.command(t, k.op, ct, []byte(p), endorsement, now, now.Add(30*time.Second))
	}
	alice := c.connect5(t, "alice-console", "alice", testPassword, nil)
	expectRefused(t, alice, events, []refusal{
		{"command with a duplicate name", ct, command(`{"level":500,"level":10}`), 0x87, signing.ReasonUnsafeCommand, "duplicate member name"},
		{"command with a duplicate, both values safe", ct, command(`{"level":20,"level":30}`), 0x87, signing.ReasonUnsafeCommand, "duplicate member name"},
		{"command with trailing data", ct, command(`{"level":10} {"level":500}`), 0x87, signing.ReasonUnsafeCommand, ""},
		{"command with a field its name does not own", ct, command(`{"colour":null}`), 0x87, signing.ReasonUnsafeCommand, "not an argument of this command"},
	})
	good := command(`{"level":30}`)
	if code := publish5(t, alice, ct, good); code != 0 {
		t.Fatalf("honest command: PUBACK 0x%02x", code)
	}
	if m := cmds.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("the device got %s %x first, want the honest command", m.Topic(), m.Payload())
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Desired["level"] != 30.0 {
		t.Fatalf("honest command: desired %v", doc.Desired)
	}
}

// TestDeviceMessageHeaderRules: a device message carrying an operator
// endorsement (label 13, for commands only) is malformed; one whose own
// exp has passed, or whose iat is far ahead, is expired. An honest device
// with and without those claims keeps updating its twin.
func TestDeviceMessageHeaderRules(t *testing.T) {
	c, k := startCommandCity(t)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	dev := c.connect5(t, "sl-1", "", "", nil)
	now := time.Now()
	endorsement := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour))
	at := func(tm time.Time) *int64 { u := tm.Unix(); return &u }

	const st, tele = "city/z1/sl-1/state", "city/z1/sl-1/tele/power"
	expectRefused(t, dev, events, []refusal{
		{"endorsement on a state message", st, d.signWith(t, st, []byte(`{"level":90}`), func(h *signing.Header) { h.Endorsement = endorsement }),
			0x99, signing.ReasonMalformed, "label 13"},
		{"endorsement on telemetry", tele, d.signWith(t, tele, []byte(`{"power_w":3}`), func(h *signing.Header) { h.Endorsement = endorsement }),
			0x99, signing.ReasonMalformed, "label 13"},
		{"expired an hour ago", st, d.signWith(t, st, []byte(`{"level":91}`), func(h *signing.Header) {
			h.IssuedAt, h.Expires = at(now.Add(-2*time.Hour)), at(now.Add(-time.Hour))
		}), 0x87, signing.ReasonExpired, "expired at"},
		{"telemetry expired", tele, d.signWith(t, tele, []byte(`{"power_w":3}`), func(h *signing.Header) { h.Expires = at(now.Add(-time.Minute)) }),
			0x87, signing.ReasonExpired, "expired at"},
		{"issued an hour ahead", st, d.signWith(t, st, []byte(`{"level":92}`), func(h *signing.Header) { h.IssuedAt = at(now.Add(time.Hour)) }),
			0x87, signing.ReasonExpired, "ahead of now"},
	})
	if doc, _ := c.srv.Edge().Twin("sl-1"); len(doc.Reported) != 0 {
		t.Fatalf("a refused message changed the twin: %v", doc.Reported)
	}
	for i, set := range []func(*signing.Header){
		func(*signing.Header) {},
		func(h *signing.Header) { h.IssuedAt, h.Expires = at(now), at(now.Add(time.Minute)) },
		// iat within signing.ClockSkew ahead is "now".
		func(h *signing.Header) { h.IssuedAt = at(now.Add(signing.ClockSkew / 2)) },
	} {
		level := 20 + i
		if code := publish5(t, dev, st, d.signWith(t, st, fmt.Appendf(nil, `{"level":%d}`, level), set)); code != 0 {
			t.Fatalf("honest state %d: PUBACK 0x%02x", i, code)
		}
		if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Reported["level"] != float64(level) {
			t.Fatalf("honest state %d: reported %v", i, doc.Reported)
		}
	}
}

// TestTwinCannotGrowWithoutBound: validly signed patches that delete keys
// the device never had, or name fields its kind does not have, are refused
// as invalid_state and leave the twin as it was (they used to grow it by
// each name: tens of megabytes); a state that would make the twin larger
// than twin.max_document_bytes is refused likewise. Honest state keeps
// updating the same twins.
func TestTwinCannotGrowWithoutBound(t *testing.T) {
	ld := newDevice(t, "ld-1", "z1", "loop-detector", signing.AlgEd25519)
	const limit = 2048
	c := startCityWith(t, func(cfg *broker.Config) { cfg.Payload.Twin.MaxDocumentBytes = limit }, func(ctx context.Context, reg *devices.Registry) {
		pub := ld.key.Public()
		if err := reg.Enroll(ctx, devices.Device{ID: ld.id, Zone: ld.zone, Kind: ld.kind, Keys: []devices.Key{{
			KID: ld.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}}); err != nil {
			t.Fatal(err)
		}
	})
	c.devs[ld.id] = ld
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	d := c.devs["sl-1"]
	dev := c.connect5(t, "sl-1", "", "", nil)
	const st = "city/z1/sl-1/state"
	if code := publish5(t, dev, st, d.sign(t, st, []byte(`{"level":40,"on":true}`))); code != 0 {
		t.Fatalf("first honest state: PUBACK 0x%02x", code)
	}
	before, _ := c.srv.Edge().Twin("sl-1")
	long := strings.Repeat("k", 60<<10)
	expectRefused(t, dev, events, []refusal{
		{"delete a 60 KB key it never had", st, d.sign(t, st, []byte(`{"`+long+`":null}`)), 0x87, signing.ReasonInvalidState, "unknown field"},
		{"delete an unknown field", st, d.sign(t, st, []byte(`{"colour":null,"level":41}`)), 0x87, signing.ReasonInvalidState, "unknown field"},
		{"set an unknown field", st, d.sign(t, st, []byte(`{"colour":"red"}`)), 0x87, signing.ReasonInvalidState, "unknown field"},
	})
	after, _ := c.srv.Edge().Twin("sl-1")
	if after.Version != before.Version || !reflect.DeepEqual(after.Meta, before.Meta) || after.Reported["level"] != 40.0 {
		t.Fatalf("a refused patch changed the twin: version %d -> %d, meta %v", before.Version, after.Version, after.Meta)
	}

	// A loop detector may report up to 64 lanes: more than this broker's
	// twin size allows.
	ldc := c.connect5(t, "ld-1", "", "", nil)
	const lt = "city/z1/ld-1/state"
	if code := publish5(t, ldc, lt, ld.sign(t, lt, []byte(`{"status":"ok","lanes":{"1":{"count":3}}}`))); code != 0 {
		t.Fatalf("small loop-detector state: PUBACK 0x%02x", code)
	}
	small, _ := c.srv.Edge().Twin("ld-1")
	lanes := map[string]any{}
	for i := range 64 {
		lanes[fmt.Sprint(i+1)] = map[string]any{"count": 9999, "occupancy": 99.9, "speed_kmh": 123.4}
	}
	big, _ := json.Marshal(map[string]any{"lanes": lanes})
	expectRefused(t, ldc, events, []refusal{
		{"state over the twin size limit", lt, ld.sign(t, lt, big), 0x87, signing.ReasonInvalidState, fmt.Sprintf("over its limit of %d", limit)},
	})
	now, _ := c.srv.Edge().Twin("ld-1")
	if now.Version != small.Version {
		t.Fatalf("an oversized state changed the twin")
	}
	if b, _ := json.Marshal(now); len(b) > limit {
		t.Fatalf("twin of %d bytes, over %d", len(b), limit)
	}
	if code := publish5(t, ldc, lt, ld.sign(t, lt, []byte(`{"lanes":{"2":{"count":4}}}`))); code != 0 {
		t.Fatalf("honest loop-detector state after the refusal: PUBACK 0x%02x", code)
	}
	if code := publish5(t, dev, st, d.sign(t, st, []byte(`{"level":42}`))); code != 0 {
		t.Fatalf("honest streetlight state after the refusals: PUBACK 0x%02x", code)
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Reported["level"] != 42.0 {
		t.Fatalf("honest state: reported %v", doc.Reported)
	}
}

// TestOversizedTopicsAreBoundedAndRateLimited: a device flooding 60 KB
// topics under city/ is charged by its rate limit like any other flood: the
// first messages of its burst are refused as bad_topic, by their length
// alone, and the rest as rate_limited, one event each, never a bad_topic
// event per message. Another device keeps publishing meanwhile.
func TestOversizedTopicsAreBoundedAndRateLimited(t *testing.T) {
	const burst = 3
	c := startCity(t, func(cfg *broker.Config) { cfg.RatePerClient, cfg.RateBurst = 0.001, burst })
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	hostile := c.connect5(t, "sl-1", "", "", nil)
	long := "city/z1/sl-1/tele/" + strings.Repeat("x", 60<<10)
	var cases []refusal
	for i := range burst + 4 {
		rc := refusal{fmt.Sprintf("long topic %d", i), long, []byte(`{}`), 0x99, signing.ReasonBadTopic, fmt.Sprintf("over the limit of %d", broker.DefaultMaxTopicBytes)}
		if i >= burst {
			rc.code, rc.reason, rc.detail = 0x87, signing.ReasonRateLimited, "over its message rate"
		}
		cases = append(cases, rc)
	}
	// A short but mis-shaped topic from the same client is over its rate
	// too: the rate is charged before the topic is looked at.
	cases = append(cases, refusal{"bad topic over the rate", "city/z1/sl-1/bogus", []byte(`{}`), 0x87, signing.ReasonRateLimited, "over its message rate"})
	expectRefused(t, hostile, events, cases)

	honest := c.connect5(t, "sl-2", "", "", nil)
	const st = "city/z1/sl-2/state"
	if code := publish5(t, honest, st, c.devs["sl-2"].sign(t, st, []byte(`{"level":55}`))); code != 0 {
		t.Fatalf("honest device: PUBACK 0x%02x", code)
	}
	if doc, _ := c.srv.Edge().Twin("sl-2"); doc.Reported["level"] != 55.0 {
		t.Fatalf("honest device: reported %v", doc.Reported)
	}
}
