package twin

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

func js(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMergePatchRFC7396AppendixA runs every example of RFC 7396 Appendix A.
func TestMergePatchRFC7396AppendixA(t *testing.T) {
	cases := [][3]string{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, c := range cases {
		target := js(t, c[0])
		got := MergePatch(target, js(t, c[1]))
		if !reflect.DeepEqual(got, js(t, c[2])) {
			t.Errorf("merge %s with %s: got %v, want %s", c[0], c[1], got, c[2])
		}
		if !reflect.DeepEqual(target, js(t, c[0])) {
			t.Errorf("merge %s with %s modified the target", c[0], c[1])
		}
	}
}

func TestApplyReportedDesiredDeltaMeta(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	m1 := FieldMeta{TS: time.Unix(10, 0).UTC(), KID: "aa", Ctr: 1}
	if err := d.ApplyReported([]byte(`{"on":true,"level":40}`), m1, nil); err != nil {
		t.Fatal(err)
	}
	m2 := FieldMeta{TS: time.Unix(20, 0).UTC(), KID: "bb", Ctr: 9}
	if err := d.ApplyDesired([]byte(`{"level":80,"on":true}`), m2); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Meta.Desired.At("level"); d.Version != 2 || got != m2 {
		t.Fatalf("version %d meta %v", d.Version, d.Meta)
	}
	if got, _ := d.Meta.Reported.At("on"); got != m1 {
		t.Fatalf("version %d meta %v", d.Version, d.Meta)
	}
	if !reflect.DeepEqual(d.Delta, map[string]any{"level": 80.0}) {
		t.Fatalf("delta = %v, want level 80 only", d.Delta)
	}
	if err := d.ApplyReported([]byte(`{"level":80}`), m1, nil); err != nil {
		t.Fatal(err)
	}
	if len(d.Delta) != 0 {
		t.Fatalf("delta = %v after reported caught up", d.Delta)
	}
	d.RecordAccepted(5)
	d.RecordAccepted(3)
	d.RecordRejection(signing.ReasonReplay)
	if d.Security.Accepted != 2 || d.Security.LastCtr != 5 || d.Security.Rejected["replay"] != 1 {
		t.Fatalf("security = %+v", d.Security)
	}
}

func TestApplyLeavesDocumentUnchangedOnError(t *testing.T) {
	d := New("tl-1", "z1", "traffic-signal")
	if err := d.ApplyReported([]byte(`{"mode":"normal"}`), FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	before := d.Clone()
	refuse := errors.New("conflicting greens")
	cases := map[string]func() error{
		"validator refuses": func() error {
			return d.ApplyReported([]byte(`{"mode":"flash"}`), FieldMeta{Ctr: 2}, func(prev, next map[string]any) error {
				if prev["mode"] != "normal" || next["mode"] != "flash" {
					t.Errorf("validator saw prev %v next %v", prev, next)
				}
				return refuse
			})
		},
		"not JSON":        func() error { return d.ApplyReported([]byte(`{"mode":`), FieldMeta{Ctr: 3}, nil) },
		"not an object":   func() error { return d.ApplyReported([]byte(`[1]`), FieldMeta{Ctr: 3}, nil) },
		"two objects":     func() error { return d.ApplyReported([]byte(`{}{}`), FieldMeta{Ctr: 3}, nil) },
		"desired not obj": func() error { return d.ApplyDesired([]byte(`"x"`), FieldMeta{Ctr: 3}) },
	}
	for name, apply := range cases {
		if err := apply(); err == nil {
			t.Fatalf("%s: no error", name)
		}
		if !reflect.DeepEqual(d, before) {
			t.Fatalf("%s: document changed: %+v", name, d)
		}
	}
}

func TestParseRoundTrip(t *testing.T) {
	d := New("aq-1", "z2", "air-quality")
	d.ApplyReported([]byte(`{"pm25":12.5,"sensor":{"ok":true}}`), FieldMeta{TS: time.Unix(5, 0).UTC(), KID: "cc", Ctr: 4}, nil)
	d.RecordRejection(signing.ReasonBadSignature)
	b, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !sameDocument(got, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, d)
	}
	if _, err := Parse([]byte(`{"device":"x","bogus":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// TestCloneStaysIndependent: Clone shares maps (copy on write), so every
// change to the clone — reported and desired patches, nested objects,
// provenance, rejections, acceptances — must leave the original as it was.
func TestCloneStaysIndependent(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	if err := d.ApplyReported([]byte(`{"level":10,"lamp":{"ok":true}}`), FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyDesired([]byte(`{"level":50}`), FieldMeta{Ctr: 2}); err != nil {
		t.Fatal(err)
	}
	d.RecordRejection(signing.ReasonReplay)
	snapshot, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	c := d.Clone()
	if err := c.ApplyReported([]byte(`{"level":50,"lamp":{"ok":false},"power_w":31}`), FieldMeta{Ctr: 3}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyDesired([]byte(`{"level":null,"mode":"dim"}`), FieldMeta{Ctr: 4}); err != nil {
		t.Fatal(err)
	}
	c.RecordRejection(signing.ReasonReplay)
	c.RecordRejection(signing.ReasonBadSignature)
	c.RecordAccepted(9)
	after, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(snapshot) {
		t.Fatalf("original changed through its clone:\nbefore %s\nafter  %s", snapshot, after)
	}
	if c.Version != d.Version+2 || c.Security.Rejected["replay"] != 2 || c.Reported["power_w"] != 31.0 {
		t.Fatalf("clone did not take its changes: %+v", c)
	}
}
