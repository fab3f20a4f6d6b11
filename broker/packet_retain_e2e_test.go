package broker_test

import (
	"context"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
)

// TestRetainedCommandIsRefused: a command is valid for a minute, but mochi
// kept a retained one and handed it to every later subscriber of the
// device's command topic. A retained PUBLISH on a command topic, even of a
// command the broker would accept, is now refused (MQTT 5: reason 0x83;
// MQTT 3.1.1: a plain PUBACK and the command dropped) with a security event,
// and a device that subscribes afterwards gets no retained command; the same
// command sent without retain reaches it.
func TestRetainedCommandIsRefused(t *testing.T) {
	c, k := startCommandCity(t)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	const tp = "city/z1/sl-1/cmd/dim"
	now := time.Now()
	good := k.endorse(t, k.authority, k.op.key.Public(), "alice", k.scope, now.Add(time.Hour))
	fresh := func() []byte {
		return k.command(t, k.op, tp, []byte(`{"level":30}`), good, now, now.Add(30*time.Second))
	}

	alice5 := c.connect5(t, "alice-5", "alice", testPassword, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for qos := byte(1); qos <= 2; qos++ {
		resp, err := alice5.Publish(ctx, &paho5.Publish{Topic: tp, QoS: qos, Retain: true, Payload: fresh()})
		if resp == nil || resp.ReasonCode != 0x83 {
			t.Fatalf("MQTT 5 retained command, QoS %d: %+v %v, want reason 0x83", qos, resp, err)
		}
		if ev := nextEvent(t, events); ev.Reason != "retained_command" || ev.Topic != tp || ev.Client != "alice-5" {
			t.Fatalf("event %+v, want retained_command from alice-5", ev)
		}
	}
	alice := c.connect(t, "alice-console", "alice")
	if tok := alice.Publish(tp, 1, true, fresh()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT 3.1.1 retained command: %v", tok.Error())
	}
	if ev := nextEvent(t, events); ev.Reason != "retained_command" || ev.Client != "alice-console" {
		t.Fatalf("event %+v, want retained_command from alice-console", ev)
	}

	// The device subscribes only now: no retained command comes; the
	// live one does.
	dev := c.connect(t, "sl-1", "")
	cmds := subscribe(t, dev, "city/z1/sl-1/cmd/#")
	ok := fresh()
	publish(t, alice, tp, 1, ok)
	if m := cmds.next(t); m.Retained() || string(m.Payload()) != string(ok) {
		t.Fatalf("device got retained=%v %x first, want the live command", m.Retained(), m.Payload())
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Desired["level"] != 30.0 {
		t.Fatalf("desired %v after the live command", doc.Desired)
	}
}
