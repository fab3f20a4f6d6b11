package cmdcheck

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

const signalParams = `{"groups":["2","4"],"compatible":[],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000,"plans":{"am":[["2"],["4"]]},"max_hold_s":60}`

// signalInput signs command name with payload for traffic signal ts-1,
// whose twin reports reported.
func (k *kit) signalInput(t *testing.T, name, payload string, reported map[string]any) Input {
	t.Helper()
	cwt, err := signing.SignEndorsement(k.authority, signing.KeyID(k.authority.Public()), 1, k.alice.Public(), signing.EndorsementClaims{
		Operator: "alice", Scope: signing.CommandScope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}},
		IssuedAt: k.now.Add(-time.Minute), Expires: k.now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	tp := "city/z1/ts-1/cmd/" + name
	i, e := k.now.Unix(), k.now.Add(30*time.Second).Unix()
	msg, err := signing.Sign(k.alice, signing.Header{KID: signing.KeyID(k.alice.Public()), Counter: 1, IssuedAt: &i, Expires: &e, Endorsement: cwt}, []byte(payload), tp)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Parse(msg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return Input{Topic: tp, Envelope: env, Authority: k.trust, Now: k.now,
		Device: Device{Zone: "z1", ID: "ts-1", Kind: "traffic-signal", Params: json.RawMessage(signalParams), Reported: reported}}
}

// TestModeCommandsAgainstTheMonitor: while the conflict monitor's fault
// stands, resume and hold-phase are refused (unsafe_command) and flash is
// not; without a fault, resume, hold and set-plan to a plan the params
// define are accepted, and set-plan to another plan is refused.
func TestModeCommandsAgainstTheMonitor(t *testing.T) {
	k := newKit(t)
	faulted := map[string]any{"mode": "flash", "plan": "fixed-time", "fault": map[string]any{"reason": "conflict", "detail": "groups 2 and 4"}}
	normal := map[string]any{"mode": "normal", "plan": "fixed-time"}
	cases := []struct {
		name, cmd, payload string
		reported           map[string]any
		refused            bool
	}{
		{"resume over a latched fault", "resume", `{}`, faulted, true},
		{"hold over a latched fault", "hold-phase", `{"group":"2","seconds":30}`, map[string]any{"mode": "normal", "fault": faulted["fault"]}, true},
		{"flash over a latched fault", "flash", `{}`, faulted, false},
		{"resume without a fault", "resume", `{}`, map[string]any{"mode": "flash"}, false},
		{"hold without a fault", "hold-phase", `{"group":"2","seconds":30}`, normal, false},
		{"set-plan to a plan of the params", "set-plan", `{"plan":"am"}`, normal, false},
		{"set-plan to a plan the device does not have", "set-plan", `{"plan":"pm"}`, normal, true},
	}
	for _, c := range cases {
		_, err := Check(k.signalInput(t, c.cmd, c.payload, c.reported))
		if c.refused && signing.ReasonOf(err) != signing.ReasonUnsafeCommand {
			t.Errorf("%s: %v, want unsafe_command", c.name, err)
		}
		if !c.refused && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
	}
}
