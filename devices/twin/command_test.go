package twin

import (
	"reflect"
	"strconv"
	"testing"
	"time"
)

// TestCommandLife follows commands through the twin: pending with desired
// and delta, done and refused by a correlated ack, an ack for another
// counter ignored, expiry, cancel, and a later command taking over a field.
func TestCommandLife(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) FieldMeta {
		return FieldMeta{TS: t0.Add(time.Duration(s) * time.Second), KID: "aa", Ctr: uint64(s)}
	}
	ack := func(name string, ctr int, status, reason string) []byte {
		return []byte(`{"cmd":"` + name + `","kid":"aa","ctr":` + strconv.Itoa(ctr) + `,"status":"` + status + `","reason":"` + reason + `"}`)
	}
	d := New("sl-1", "z1", "streetlight")
	d.Reported = map[string]any{"level": 100.0, "mode": "schedule"}

	d.ApplyCommand(CommandChange{Name: "set-level", Desired: map[string]any{"level": 40.0, "mode": "manual"}, Expires: t0.Add(31 * time.Second)}, at(1))
	life := d.Meta[CommandMetaKey("set-level")]
	if life.Status != StatusPending || life.Fields != "level,mode" || !reflect.DeepEqual(d.Delta, map[string]any{"level": 40.0, "mode": "manual"}) {
		t.Fatalf("after the command: meta %+v delta %v", life, d.Delta)
	}
	if d.ApplyAck(ack("set-level", 9, "done", ""), at(2)) || d.Meta[CommandMetaKey("set-level")].Status != StatusPending {
		t.Fatal("an ack with another counter settled the command")
	}
	if d.ApplyAck([]byte(`{"cmd":"set-level","kid":"aa","ctr":1,"status":"done","extra":1}`), at(2)) {
		t.Fatal("an ack with an unknown member was taken")
	}
	if !d.ApplyAck(ack("set-level", 1, "done", ""), at(2)) {
		t.Fatal("the correlated ack was ignored")
	}
	if life := d.Meta[CommandMetaKey("set-level")]; life.Status != StatusDone || life.AckTS == nil || len(d.Delta) != 0 || len(d.Desired) != 0 {
		t.Fatalf("after done: meta %+v desired %v delta %v", life, d.Desired, d.Delta)
	}

	d.ApplyCommand(CommandChange{Name: "set-level", Desired: map[string]any{"level": 150.0, "mode": "manual"}, Expires: t0.Add(40 * time.Second)}, at(10))
	d.ApplyAck(ack("set-level", 10, "refused", "unsafe_command"), at(11))
	if life := d.Meta[CommandMetaKey("set-level")]; life.Status != StatusRefused || life.Reason != "unsafe_command" || len(d.Delta) != 0 {
		t.Fatalf("after refused: meta %+v delta %v", life, d.Delta)
	}

	d.ApplyCommand(CommandChange{Name: "schedule", Desired: map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}, Expires: t0.Add(50 * time.Second)}, at(20))
	if d.ExpireCommands(t0.Add(49 * time.Second)) {
		t.Fatal("expired before its exp")
	}
	if !d.ExpireCommands(t0.Add(50*time.Second)) || d.Meta[CommandMetaKey("schedule")].Status != StatusExpired || len(d.Delta) != 0 {
		t.Fatalf("at exp: meta %+v delta %v", d.Meta[CommandMetaKey("schedule")], d.Delta)
	}

	// Cancel withdraws only what the cancelled command still owns: mode now
	// belongs to schedule, level still to set-level.
	d.ApplyCommand(CommandChange{Name: "set-level", Desired: map[string]any{"level": 20.0, "mode": "manual"}, Expires: t0.Add(90 * time.Second)}, at(60))
	d.ApplyCommand(CommandChange{Name: "schedule", Desired: map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}, Expires: t0.Add(90 * time.Second)}, at(61))
	if got := d.Meta[CommandMetaKey("set-level")].Fields; got != "level" {
		t.Fatalf("set-level still owns %q, want level", got)
	}
	d.ApplyCommand(CommandChange{Name: "cancel", Desired: map[string]any{"level": nil, "mode": nil}, Cancels: "set-level", Expires: t0.Add(90 * time.Second)}, at(62))
	if d.Meta[CommandMetaKey("set-level")].Status != StatusCancelled || !reflect.DeepEqual(d.Desired, map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}) {
		t.Fatalf("after cancel: meta %+v desired %v", d.Meta[CommandMetaKey("set-level")], d.Desired)
	}
	// A late done for the cancelled command changes nothing.
	if d.ApplyAck(ack("set-level", 60, "done", ""), at(63)) {
		t.Fatal("an ack settled a cancelled command")
	}
}
