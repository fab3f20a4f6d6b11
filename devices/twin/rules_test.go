package twin

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-city/signet/signing"
)

func TestRulesRefuseAndLeaveDocumentUnchanged(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	if err := d.ApplyReported([]byte(`{"level":10}`), FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	before := d.Clone()
	onlyLevel := func(p map[string]any) error {
		for k := range p {
			if k != "level" {
				return signing.Reject(signing.ReasonInvalidState, k, "unknown field")
			}
		}
		return nil
	}
	big := `{"level":"` + strings.Repeat("x", 2000) + `"}`
	cases := []struct {
		name  string
		apply func() error
		field string
	}{
		{"duplicate member", func() error {
			return d.ApplyReported([]byte(`{"level":500,"level":10}`), FieldMeta{Ctr: 2}, nil)
		}, "level"},
		{"duplicate in desired", func() error {
			return d.ApplyDesired([]byte(`{"level":{"a":1,"a":2}}`), FieldMeta{Ctr: 2})
		}, "level.a"},
		{"too deep", func() error {
			return d.ApplyReportedWith([]byte(`{"level":{"a":{"b":1}}}`), FieldMeta{Ctr: 2}, Rules{MaxDepth: 2})
		}, "level.a"},
		{"patch checker sees deletions", func() error {
			return d.ApplyReportedWith([]byte(`{"`+strings.Repeat("k", 1000)+`":null}`), FieldMeta{Ctr: 2}, Rules{Patch: onlyLevel})
		}, strings.Repeat("k", 1000)},
		{"over the size limit", func() error {
			return d.ApplyReportedWith([]byte(big), FieldMeta{Ctr: 2}, Rules{MaxBytes: 1024})
		}, "twin"},
		{"desired over the size limit", func() error {
			return d.ApplyDesiredWith([]byte(big), FieldMeta{Ctr: 2}, Rules{MaxBytes: 1024})
		}, "twin"},
		{"default size limit", func() error {
			return d.ApplyReported([]byte(`{"level":"`+strings.Repeat("x", DefaultMaxBytes)+`"}`), FieldMeta{Ctr: 2}, nil)
		}, "twin"},
	}
	for _, c := range cases {
		err := c.apply()
		var rej *signing.Rejection
		if !errors.As(err, &rej) || rej.Reason != signing.ReasonInvalidState || rej.Field != c.field {
			t.Errorf("%s: got %.200v, want invalid_state at %.40q", c.name, err, c.field)
		}
		if !reflect.DeepEqual(d, before) {
			t.Fatalf("%s: document changed", c.name)
		}
	}
	// Within the limits the same document keeps taking changes.
	if err := d.ApplyReportedWith([]byte(`{"level":20}`), FieldMeta{Ctr: 3}, Rules{MaxBytes: 1024, Patch: onlyLevel}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	if d.Reported["level"] != 20.0 || d.Version != before.Version+1 || len(b) > 1024 {
		t.Fatalf("honest change: %s", b)
	}
}
