package twin

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
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

	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 40.0, "mode": "manual"}, Expires: t0.Add(31 * time.Second)}, at(1))
	life := d.Meta.Commands["set-level"]
	if life.Status != StatusPending || life.Fields != "level,mode" || !reflect.DeepEqual(d.Delta, map[string]any{"level": 40.0, "mode": "manual"}) {
		t.Fatalf("after the command: meta %+v delta %v", life, d.Delta)
	}
	if d.ApplyAck(ack("set-level", 9, "done", ""), at(2)) || d.Meta.Commands["set-level"].Status != StatusPending {
		t.Fatal("an ack with another counter settled the command")
	}
	if d.ApplyAck([]byte(`{"cmd":"set-level","kid":"aa","ctr":1,"status":"done","extra":1}`), at(2)) {
		t.Fatal("an ack with an unknown member was taken")
	}
	if !d.ApplyAck(ack("set-level", 1, "done", ""), at(2)) {
		t.Fatal("the correlated ack was ignored")
	}
	if life := d.Meta.Commands["set-level"]; life.Status != StatusDone || life.AckTS == nil || len(d.Delta) != 0 || len(d.Desired) != 0 {
		t.Fatalf("after done: meta %+v desired %v delta %v", life, d.Desired, d.Delta)
	}

	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 150.0, "mode": "manual"}, Expires: t0.Add(40 * time.Second)}, at(10))
	d.ApplyAck(ack("set-level", 10, "refused", "unsafe_command"), at(11))
	if life := d.Meta.Commands["set-level"]; life.Status != StatusRefused || life.Reason != "unsafe_command" || len(d.Delta) != 0 {
		t.Fatalf("after refused: meta %+v delta %v", life, d.Delta)
	}

	mustApply(t, d, CommandChange{Name: "schedule", Desired: map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}, Expires: t0.Add(50 * time.Second)}, at(20))
	if d.ExpireCommands(t0.Add(49 * time.Second)) {
		t.Fatal("expired before its exp")
	}
	if !d.ExpireCommands(t0.Add(50*time.Second)) || d.Meta.Commands["schedule"].Status != StatusExpired || len(d.Delta) != 0 {
		t.Fatalf("at exp: meta %+v delta %v", d.Meta.Commands["schedule"], d.Delta)
	}

	// Cancel withdraws only what the cancelled command still owns: mode now
	// belongs to schedule, level still to set-level.
	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 20.0, "mode": "manual"}, Expires: t0.Add(90 * time.Second)}, at(60))
	mustApply(t, d, CommandChange{Name: "schedule", Desired: map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}, Expires: t0.Add(90 * time.Second)}, at(61))
	if got := d.Meta.Commands["set-level"].Fields; got != "level" {
		t.Fatalf("set-level still owns %q, want level", got)
	}
	mustApply(t, d, CommandChange{Name: "cancel", Desired: map[string]any{"level": nil, "mode": nil}, Cancels: "set-level", Expires: t0.Add(90 * time.Second)}, at(62))
	if d.Meta.Commands["set-level"].Status != StatusCancelled || !reflect.DeepEqual(d.Desired, map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:00"}}) {
		t.Fatalf("after cancel: meta %+v desired %v", d.Meta.Commands["set-level"], d.Desired)
	}
	// A late done for the cancelled command changes nothing.
	if d.ApplyAck(ack("set-level", 60, "done", ""), at(63)) {
		t.Fatal("an ack settled a cancelled command")
	}
}

func mustApply(t *testing.T, d *Document, c CommandChange, m FieldMeta) {
	t.Helper()
	if err := d.ApplyCommand(c, m); err != nil {
		t.Fatal(err)
	}
}

// TestCommandIfVersion: a command that names the version it was decided on
// is refused as stale_version once the twin has moved on, and changes
// nothing; at that version, or naming none, it is taken.
func TestCommandIfVersion(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	if err := d.ApplyReported([]byte(`{"level":10}`), FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	seen := d.Version
	if err := d.ApplyReported([]byte(`{"level":20}`), FieldMeta{Ctr: 2}, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := d.MarshalJSON()
	for _, v := range []uint64{seen, d.Version + 1} {
		err := d.ApplyCommand(CommandChange{Name: "set-level", Desired: map[string]any{"level": 40.0}, IfVersion: v}, FieldMeta{Ctr: 3})
		var rej *signing.Rejection
		if !errors.As(err, &rej) || rej.Reason != signing.ReasonStaleVersion || rej.Field != "payload.if_version" {
			t.Fatalf("if_version %d at version %d: %v, want stale_version", v, d.Version, err)
		}
		if after, _ := d.MarshalJSON(); string(after) != string(before) {
			t.Fatalf("a stale command changed the twin:\n%s\n%s", before, after)
		}
	}
	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 40.0}, IfVersion: d.Version}, FieldMeta{Ctr: 4})
	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 50.0}}, FieldMeta{Ctr: 5})
	if d.Desired["level"] != 50.0 || d.Version != seen+3 {
		t.Fatalf("desired %v version %d", d.Desired, d.Version)
	}
}
