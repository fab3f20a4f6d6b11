package kinds

import (
	"errors"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

func TestValidatePatch(t *testing.T) {
	long := strings.Repeat("k", 60<<10)
	cases := []struct {
		kind, patch string
		field       string // "" = valid
	}{
		{"streetlight", `{"on":true,"level":40}`, ""},
		{"streetlight", `{"level":null}`, ""},
		{"streetlight", `{"colour":"red"}`, "colour"},
		{"streetlight", `{"colour":null}`, "colour"}, // deleting a field it never had
		{"streetlight", `{"` + long + `":null}`, shortPath(long)},
		{"traffic-signal", `{"groups":{"2":{"state":"red","since":1}}}`, ""},
		{"traffic-signal", `{"groups":{"2":null}}`, ""},
		{"traffic-signal", `{"groups":{"2":{"colour":null}}}`, "groups.2.colour"},
		{"traffic-signal", `{"groups":{"` + long + `":null}}`, shortPath("groups." + long)},
		{"loop-detector", `{"lanes":{"1":{"count":3}}}`, ""},
		{"loop-detector", `{"lanes":{"1":{"speed":3}}}`, "lanes.1.speed"},
		{"air-quality", `{"pm25":3,"status":"ok"}`, ""},
		{"air-quality", `{"status":{"x":null}}`, ""}, // a value's type is ValidateReported's to judge
	}
	for _, c := range cases {
		p, ok := Lookup(c.kind)
		if !ok {
			t.Fatalf("no kind %s", c.kind)
		}
		m, err := strictjson.DecodeObject([]byte(c.patch), 0)
		if err != nil {
			t.Fatal(err)
		}
		err = ValidatePatch(p, m)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s %.60s: refused: %v", c.kind, c.patch, err)
			}
			continue
		}
		var rej *signing.Rejection
		if !errors.As(err, &rej) || rej.Reason != signing.ReasonInvalidState || rej.Field != c.field {
			t.Errorf("%s %.60s: got %.200v, want invalid_state at %.60q", c.kind, c.patch, err, c.field)
		}
		if err != nil && len(err.Error()) > 512 {
			t.Errorf("%s: error of %d bytes", c.kind, len(err.Error()))
		}
	}
}

func TestReportedIDLength(t *testing.T) {
	p, _ := Lookup("loop-detector")
	long := strings.Repeat("1", maxIDBytes+1)
	err := p.ValidateReported(nil, nil, map[string]any{"lanes": map[string]any{long: map[string]any{}}})
	var rej *signing.Rejection
	if !errors.As(err, &rej) || rej.Reason != signing.ReasonInvalidState {
		t.Fatalf("a %d-byte lane id: got %v", len(long), err)
	}
}

func TestTrafficSignalParamsReadStrictly(t *testing.T) {
	dup := `{"groups":["1","2"],"compatible":[],"min_yellow_ms":3000,"min_yellow_ms":9000,"red_clearance_ms":1000}`
	if _, err := ParseTrafficSignalParams([]byte(dup)); err == nil || !strings.Contains(err.Error(), "duplicate member name") {
		t.Fatalf("duplicate min_yellow_ms: %v", err)
	}
	if _, err := ParseTrafficSignalParams(plan); err != nil {
		t.Fatalf("honest plan: %v", err)
	}
}
