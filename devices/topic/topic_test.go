package topic

import (
	"fmt"
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

// parseCitySplit is ParseCity as it was written first, on strings.Split:
// the reference FuzzParseCity holds the allocation-free segmenting to.
func parseCitySplit(t string) (City, error) {
	parts := strings.Split(t, "/")
	var seg [5]string
	copy(seg[:], parts)
	return cityOf(t, seg, len(parts))
}

// FuzzParseCity: ParseCity gives the reference's topic and error for
// every input (the seeds run in every go test).
func FuzzParseCity(f *testing.F) {
	for _, s := range []string{
		"city/z1/tl-0001/state", "city/z1/tl-0001/state/", "city/z1/ld-7/tele/traffic",
		"city/z1/ld-7/tele/traffic/", "city/z1/ld-7/tele/a/b/c", "city/z1/ld-7/tele", "city/z1/d",
		"city", "", "/", "city//", "city/z1/d/cmd/x", "town/z1/d/state", "city/z1/d/evt//",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, gotErr := ParseCity(s)
		want, wantErr := parseCitySplit(s)
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%q: got %+v, %v; the reference %+v, %v", s, got, gotErr, want, wantErr)
		}
	})
}

func TestParseCityAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCity("city/z1/sl-0001/tele/power") }); n != 0 {
		t.Errorf("ParseCity allocated %v times per call, want 0", n)
	}
}
