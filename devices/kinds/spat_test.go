package kinds

import (
	"errors"
	"testing"

	"github.com/signet-city/signet/signing"
)

// TestSPaTAgreesWithTheHeads: a SPaT event state that contradicts a
// group's reported colour, a foreign boot or group, and times out of order
// are refused; an honest SPaT is accepted.
func TestSPaTAgreesWithTheHeads(t *testing.T) {
	reported := map[string]any{"boot": 100.0, "groups": map[string]any{
		"2": map[string]any{"state": "green", "since": 1000.0},
		"4": map[string]any{"state": "red", "since": 1000.0},
	}}
	cases := []struct {
		name, spat, field string // field "": accepted
	}{
		{"honest", `{"boot":100,"groups":{"2":{"event":"protected-movement-allowed","min_end":5000,"likely":6000,"max_end":7000},"4":{"event":"stop-and-remain","min_end":2000}}}`, ""},
		{"green for a red head", `{"groups":{"4":{"event":"protected-movement-allowed"}}}`, "groups.4.event"},
		{"stop for a green head", `{"groups":{"2":{"event":"stop-and-remain"}}}`, "groups.2.event"},
		{"another boot", `{"boot":99,"groups":{}}`, "boot"},
		{"a group the controller does not report", `{"groups":{"6":{"event":"dark"}}}`, "groups.6"},
		{"ends before it began", `{"groups":{"2":{"event":"protected-movement-allowed","min_end":500}}}`, "groups.2.min_end"},
		{"likely after max", `{"groups":{"2":{"event":"protected-movement-allowed","min_end":5000,"likely":8000,"max_end":7000}}}`, "groups.2.likely"},
		{"unknown event", `{"groups":{"2":{"event":"go-fast"}}}`, "groups.2.event"},
		{"unknown field", `{"groups":{},"colour":1}`, "colour"},
	}
	for _, c := range cases {
		err := CheckSPaT(reported, []byte(c.spat))
		var rej *signing.Rejection
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.field != "" && (!errors.As(err, &rej) || rej.Reason != signing.ReasonInvalidState || rej.Field != c.field):
			t.Errorf("%s: got %v, want invalid_state at %s", c.name, err, c.field)
		}
	}
	if err := CheckSPaT(map[string]any{}, []byte(`{"groups":{"2":{"event":"protected-movement-allowed"}}}`)); err != nil {
		t.Errorf("before any reported state: %v", err)
	}
}
