package model

import (
	"strings"
	"testing"
)

// TestCommandsReadStrictly: a device model refuses a command payload that
// parsers could read two ways, and still takes the honest one.
func TestCommandsReadStrictly(t *testing.T) {
	sl := &Streetlight{}
	ts, err := NewTrafficSignal(DefaultSignalPlan)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		m       Commandable
		hostile string
		honest  string
	}{
		{"streetlight", sl, `{"level":100,"level":10}`, `{"level":10}`},
		{"traffic-signal", ts, `{"plan":"a","plan":"b"}`, `{"plan":"b"}`},
		{"trailing", sl, `{"level":10} {"level":100}`, `{"level":10}`},
	} {
		if err := c.m.Command("set", []byte(c.hostile)); err == nil || !strings.Contains(err.Error(), c.name[:5]) {
			t.Errorf("%s: hostile %s: got %v", c.name, c.hostile, err)
		}
		if err := c.m.Command("set", []byte(c.honest)); err != nil {
			t.Errorf("%s: honest %s refused: %v", c.name, c.honest, err)
		}
	}
	if sl.manual == nil || *sl.manual != 10 || ts.planName != "b" {
		t.Fatalf("honest commands not applied: %v %q", sl.manual, ts.planName)
	}
}
