package topic

import (
	"strings"
	"testing"
)

func TestParseCity(t *testing.T) {
	cases := []struct {
		topic string
		want  City
		ok    bool
	}{
		{"city/z1/tl-0001/state", City{"z1", "tl-0001", State, ""}, true},
		{"city/z1/tl-0001/ack", City{"z1", "tl-0001", Ack, ""}, true},
		{"city/z1/ld-7/tele/traffic", City{"z1", "ld-7", Tele, "traffic"}, true},
		{"city/z1/sl-2/evt/lamp-fault", City{"z1", "sl-2", Event, "lamp-fault"}, true},
		{"city/z1/tl-0001/cmd/set-plan", City{"z1", "tl-0001", Cmd, "set-plan"}, true},
		{"city/z1/tl-0001/state/extra", City{}, false},
		{"city/z1/tl-0001/tele", City{}, false},
		{"city/z1/tl-0001/tele/a/b", City{}, false},
		{"city/z1/tl-0001/bogus", City{}, false},
		{"city/Z1/tl-0001/state", City{}, false},
		{"city//tl-0001/state", City{}, false},
		{"city/z1/tl_0001/state", City{}, false},
		{"city/z1/+/state", City{}, false},
		{"city/z1/#", City{}, false},
		{"city/" + strings.Repeat("a", 65) + "/d/state", City{}, false},
		{"town/z1/d/state", City{}, false},
	}
	for _, c := range cases {
		got, err := ParseCity(c.topic)
		if (err == nil) != c.ok {
			t.Errorf("%q: err = %v, want ok=%v", c.topic, err, c.ok)
			continue
		}
		if c.ok {
			if got != c.want {
				t.Errorf("%q: got %+v, want %+v", c.topic, got, c.want)
			}
			if got.String() != c.topic {
				t.Errorf("%q: String() = %q", c.topic, got.String())
			}
		}
	}
}

func TestIsReserved(t *testing.T) {
	for topic, want := range map[string]bool{
		"city/z/d/state": true, "city": true, "$twin/z/d/reported": true, "$security/events": true,
		"cityscape/x": false, "plain/topic": false, "$SYS/broker": false,
	} {
		if got := IsReserved(topic); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", topic, got, want)
		}
	}
}
