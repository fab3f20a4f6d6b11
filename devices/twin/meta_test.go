package twin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestProvenancePerLeaf: reported and desired keep their own provenance,
// at every leaf: a desired.level does not hide who reported level, a
// nested patch stamps only the leaves it names, a deletion drops its
// provenance, and a state member named like a stamp's members is read back
// as state, not as a stamp.
func TestProvenancePerLeaf(t *testing.T) {
	dev := func(c uint64) FieldMeta { return FieldMeta{TS: time.Unix(int64(c), 0).UTC(), KID: "dd", Ctr: c} }
	op := FieldMeta{TS: time.Unix(100, 0).UTC(), KID: "00", Ctr: 7}
	d := New("tl-1", "z1", "traffic-signal")
	if err := d.ApplyReported([]byte(`{"level":10,"groups":{"1":{"color":"red","ts":"x"},"2":{"color":"green"}}}`), dev(1), nil); err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyReported([]byte(`{"groups":{"2":{"color":"yellow"}}}`), dev(2), nil); err != nil {
		t.Fatal(err)
	}
	mustApply(t, d, CommandChange{Name: "set-level", Desired: map[string]any{"level": 40.0}}, op)
	want := map[string]uint64{"level": 1, "groups/1/color": 1, "groups/1/ts": 1, "groups/2/color": 2}
	check := func(d *Document) {
		t.Helper()
		for path, ctr := range want {
			if got, ok := d.Meta.Reported.At(strings.Split(path, "/")...); !ok || got.Ctr != ctr || got.KID != "dd" {
				t.Errorf("meta.reported %s = %+v %v, want ctr %d", path, got, ok, ctr)
			}
		}
		if got, ok := d.Meta.Desired.At("level"); !ok || got.Ctr != 7 || got.KID != "00" || got.Command != "set-level" {
			t.Errorf("meta.desired.level = %+v %v", got, ok)
		}
	}
	check(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	check(back)
	if !sameDocument(back, d) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back.Meta, d.Meta)
	}
	if err := d.ApplyReported([]byte(`{"groups":{"1":null}}`), dev(3), nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Meta.Reported["groups"].Members["1"]; ok {
		t.Fatalf("a deleted member kept its provenance: %+v", d.Meta.Reported)
	}
	// Done withdraws the desired field and its provenance; reported's stays.
	if !d.ApplyAck([]byte(`{"cmd":"set-level","kid":"00","ctr":7,"status":"done"}`), dev(4)) {
		t.Fatal("ack ignored")
	}
	if _, ok := d.Meta.Desired.At("level"); ok {
		t.Fatalf("desired provenance outlived its field: %+v", d.Meta.Desired)
	}
	if got, _ := d.Meta.Reported.At("level"); got.Ctr != 1 {
		t.Fatalf("reported.level provenance = %+v", got)
	}
}

// TestParseMigratesFlatMeta: a twin stored with the flat meta of before
// (one entry per top-level field, overwritten by commands, and "cmd/NAME"
// entries) still loads; each entry goes where it belongs.
func TestParseMigratesFlatMeta(t *testing.T) {
	old := `{"device":"sl-1","zone":"z1","kind":"streetlight","version":3,
	  "reported":{"level":10,"lamp":{"ok":true,"hours":5}},"desired":{"level":40},"delta":{"level":40},
	  "meta":{"lamp":{"ts":"2026-01-01T00:00:01Z","kid":"dd","ctr":1},
	          "level":{"ts":"2026-01-01T00:00:02Z","kid":"00","ctr":9,"cmd":"set-level"},
	          "cmd/set-level":{"ts":"2026-01-01T00:00:02Z","kid":"00","ctr":9,"cmd":"set-level","status":"pending","exp":1767225632,"fields":"level"}},
	  "security":{"last_ctr":1,"accepted":1,"rejected":{}}}`
	d, err := Parse([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d.Meta.Reported.At("lamp", "hours"); !ok || got.Ctr != 1 {
		t.Fatalf("meta.reported.lamp.hours = %+v %v", got, ok)
	}
	if got, ok := d.Meta.Desired.At("level"); !ok || got.Ctr != 9 || got.Command != "set-level" {
		t.Fatalf("meta.desired.level = %+v %v", got, ok)
	}
	if _, ok := d.Meta.Reported.At("level"); ok {
		t.Fatal("the operator's entry was taken as the device's")
	}
	if life := d.Meta.Commands["set-level"]; life.Status != StatusPending || life.Fields != "level" {
		t.Fatalf("command life = %+v", life)
	}
	// It keeps working, and is written in the current shape.
	if !d.ApplyAck([]byte(`{"cmd":"set-level","kid":"00","ctr":9,"status":"done"}`), FieldMeta{Ctr: 2}) || len(d.Desired) != 0 {
		t.Fatalf("ack on a migrated twin: desired %v", d.Desired)
	}
	b, _ := json.Marshal(d)
	again, err := Parse(b)
	if err != nil || !sameDocument(again, d) {
		t.Fatalf("migrated twin does not round-trip: %v\n%s", err, b)
	}
	// A state field that happens to be called "reported" is still the flat shape.
	d2, err := Parse([]byte(`{"reported":{"reported":1},"meta":{"reported":{"ts":"2026-01-01T00:00:01Z","kid":"dd","ctr":4}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := d2.Meta.Reported.At("reported"); !ok || got.Ctr != 4 {
		t.Fatalf("field named reported: %+v", d2.Meta)
	}
}
