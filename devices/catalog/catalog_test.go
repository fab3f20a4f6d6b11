package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"testing"

	"github.com/signet-city/signet/signing"
)

var update = flag.Bool("update", false, "rewrite docs/commands-catalogue.md from the catalogue")

const docPath = "../../docs/commands-catalogue.md"

// TestCatalogueDocument fails when the checked-in catalogue document is not
// what the catalogue renders (run with -update to rewrite it).
func TestCatalogueDocument(t *testing.T) {
	got := Markdown()
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run go test ./devices/catalog -run TestCatalogueDocument -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./devices/catalog -run TestCatalogueDocument -update", docPath)
	}
}

var testSignalParams = json.RawMessage(`{"groups":["2","4","6","8"],"compatible":[["2","6"],["2","8"],["4","6"],["4","8"]],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000,` +
	`"plans":{"am":[["2","6"],["4","8"]],"bad":[["2","4"]],"stranger":[["2","9"]]},"max_hold_s":60}`)

// TestPrepare walks every command of every kind: its good form yields exactly
// the desired patch of its own fields, and each bad form is unsafe_command.
func TestPrepare(t *testing.T) {
	normal := map[string]any{"mode": "normal"}
	cases := []struct {
		kind, name, payload string
		reported            map[string]any
		desired             map[string]any // nil: refused
	}{
		{"traffic-signal", "set-plan", `{"plan":"am"}`, normal, map[string]any{"plan": "am"}},
		{"traffic-signal", "set-plan", `{"plan":"bad"}`, normal, nil},      // conflicting greens
		{"traffic-signal", "set-plan", `{"plan":"stranger"}`, normal, nil}, // a group it has not
		{"traffic-signal", "set-plan", `{"plan":"pm"}`, normal, nil},       // not in params
		{"traffic-signal", "set-plan", `{"plan":"am","mode":"flash"}`, normal, nil},
		{"traffic-signal", "set-plan", `{"mode":"flash"}`, normal, nil},
		{"traffic-signal", "set-plan", `{"plan":"am","plan":"bad"}`, normal, nil},
		{"traffic-signal", "set-plan", `{"plan":"am"} {}`, normal, nil},
		{"traffic-signal", "flash", `{}`, normal, map[string]any{"mode": "flash"}},
		{"traffic-signal", "flash", `{"reason":"storm"}`, normal, map[string]any{"mode": "flash"}},
		{"traffic-signal", "flash", `{"reason":""}`, normal, nil},
		{"traffic-signal", "resume", `{}`, map[string]any{"mode": "flash"}, map[string]any{"mode": "normal"}},
		{"traffic-signal", "resume", `{"mode":"normal"}`, normal, nil},
		{"traffic-signal", "hold-phase", `{"group":"2","seconds":60}`, normal, map[string]any{"hold": map[string]any{"group": "2", "seconds": 60.0}}},
		{"traffic-signal", "hold-phase", `{"group":"2","seconds":61}`, normal, nil},
		{"traffic-signal", "hold-phase", `{"group":"2","seconds":10}`, map[string]any{"mode": "flash"}, nil},
		{"traffic-signal", "hold-phase", `{"group":"5","seconds":10}`, normal, nil},
		{"traffic-signal", "hold-phase", `{"group":"2"}`, normal, nil},
		{"traffic-signal", "cancel", `{"command":"hold-phase"}`, normal, map[string]any{"hold": nil}},
		{"traffic-signal", "cancel", `{"command":"reboot"}`, normal, nil},
		{"traffic-signal", "set-level", `{"level":5}`, normal, nil},
		{"streetlight", "set-level", `{"level":40}`, nil, map[string]any{"level": 40.0, "mode": "manual"}},
		{"streetlight", "set-level", `{"level":101}`, nil, nil},
		{"streetlight", "set-level", `{"level":"40"}`, nil, nil},
		{"streetlight", "set-level", `{"level":40,"on":false}`, nil, nil},
		{"streetlight", "schedule", `{"on":"18:30","off":"06:15"}`, nil, map[string]any{"mode": "schedule", "schedule": map[string]any{"on": "18:30", "off": "06:15", "level": 100.0}}},
		{"streetlight", "schedule", `{"on":"18:30","off":"18:30"}`, nil, nil},
		{"streetlight", "schedule", `{"on":"24:00","off":"06:00"}`, nil, nil},
		{"streetlight", "cancel", `{"command":"set-level"}`, nil, map[string]any{"level": nil, "mode": nil}},
		{"loop-detector", "recalibrate", `{}`, nil, map[string]any{"calibration": "requested"}},
		{"loop-detector", "recalibrate", `{"lanes":2}`, nil, nil},
		{"air-quality", "set-interval", `{"seconds":60}`, nil, map[string]any{"interval_s": 60.0}},
		{"air-quality", "set-interval", `{"seconds":1}`, nil, nil},
		{"air-quality", "set-interval", `{"seconds":86400}`, nil, nil},
	}
	for _, c := range cases {
		k, ok := Lookup(c.kind)
		if !ok {
			t.Fatalf("no kind %s", c.kind)
		}
		r, err := k.Prepare(c.name, []byte(c.payload), State{Kind: c.kind, Params: testSignalParams, Reported: c.reported})
		switch {
		case c.desired == nil && signing.ReasonOf(err) != signing.ReasonUnsafeCommand:
			t.Errorf("%s %s %s: %v, want unsafe_command", c.kind, c.name, c.payload, err)
		case c.desired != nil && err != nil:
			t.Errorf("%s %s %s: refused: %v", c.kind, c.name, c.payload, err)
		case c.desired != nil && !reflect.DeepEqual(r.Desired, c.desired):
			t.Errorf("%s %s %s: desired %v, want %v", c.kind, c.name, c.payload, r.Desired, c.desired)
		}
	}
}

// TestCommandsSetOnlyTheirFields: for every command, the desired patch of
// its good form holds only the fields the catalogue lists for it.
func TestCommandsSetOnlyTheirFields(t *testing.T) {
	for _, k := range Kinds() {
		if len(k.Commands) < 2 {
			t.Errorf("%s has no commands besides cancel", k.Name)
		}
		for _, c := range k.Commands {
			if c.desired == nil {
				continue
			}
			args := Args{}
			for _, f := range c.Args {
				switch f.Type {
				case Number:
					args[f.Name] = f.Max
				case TimeOfDay:
					args[f.Name] = "12:00"
				default:
					args[f.Name] = "x"
				}
			}
			if c.Name == Cancel {
				args["command"] = k.Commands[0].Name
			}
			for field := range c.desired(args) {
				if !contains(c.Sets, field) {
					t.Errorf("%s %s sets %q, not in its Sets %v", k.Name, c.Name, field, c.Sets)
				}
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TestIfVersionArgument: every command of every kind takes if_version, a
// whole number of 1..2^53-1, into Request.IfVersion, and leaves its desired
// patch as without it; any other value is unsafe_command naming it.
func TestIfVersionArgument(t *testing.T) {
	k, _ := Lookup("streetlight")
	r, err := k.Prepare("set-level", []byte(`{"level":40,"if_version":17}`), State{Kind: "streetlight"})
	if err != nil || r.IfVersion != 17 || !reflect.DeepEqual(r.Desired, map[string]any{"level": 40.0, "mode": "manual"}) {
		t.Fatalf("set-level with if_version: %+v %v", r, err)
	}
	if r, err := k.Prepare("set-level", []byte(`{"level":40}`), State{Kind: "streetlight"}); err != nil || r.IfVersion != 0 {
		t.Fatalf("set-level without if_version: %+v %v", r, err)
	}
	for _, bad := range []string{`0`, `1.5`, `-3`, `"7"`, `9007199254740992`, `null`} {
		_, err := k.Prepare("set-level", []byte(`{"level":40,"if_version":`+bad+`}`), State{Kind: "streetlight"})
		var rej *signing.Rejection
		if !errors.As(err, &rej) || rej.Reason != signing.ReasonUnsafeCommand || rej.Field != "payload.if_version" {
			t.Errorf("if_version %s: %v, want unsafe_command at payload.if_version", bad, err)
		}
	}
	for _, kind := range Kinds() {
		for _, c := range kind.Commands {
			if c.Name == Cancel {
				continue
			}
			r, err := kind.Prepare(Cancel, []byte(`{"command":"`+c.Name+`","if_version":3}`), State{Kind: kind.Name})
			if err != nil || r.IfVersion != 3 {
				t.Errorf("%s cancel %s with if_version: %+v %v", kind.Name, c.Name, r, err)
			}
		}
	}
}
