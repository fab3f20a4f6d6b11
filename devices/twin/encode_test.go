package twin

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/signing"
)

// reference is the document as encoding/json writes its fields: what
// MarshalJSON wrote before it was assembled from parts.
func reference(t *testing.T, d *Document) []byte {
	t.Helper()
	type plain Document // no MarshalJSON; enc is unexported, so not encoded
	b, err := json.Marshal((*plain)(d))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameDocument compares two documents' contents, not their encodings kept.
func sameDocument(a, b *Document) bool {
	x, y := *a, *b
	x.enc, y.enc = nil, nil
	return reflect.DeepEqual(&x, &y)
}

// encodingCases are documents made through the API and by hand, with what
// tends to break a hand-made encoder: HTML characters, escapes, U+2028,
// invalid UTF-8, empty and nil maps, nested provenance, commands.
func encodingCases(t *testing.T) map[string]*Document {
	t.Helper()
	at := FieldMeta{TS: time.Unix(1700000000, 5).UTC(), KID: "a1b2", Ctr: 9}
	applied := New("tl-<1>", "z&1", "traffic_signal")
	for _, patch := range []string{`{"mode":"normal","groups":{"2":{"state":"green"},"4":{"state":"red"}}}`,
		`{"note":"<b>\u2028\"x\"\\\u00e9\ud83d\ude00","groups":{"4":null},"list":[1,2.5,-0,1e300,{}]}`} {
		if err := applied.ApplyReported([]byte(patch), at, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := applied.ApplyDesired([]byte(`{"plan":"weekday-am","empty":{}}`), at); err != nil {
		t.Fatal(err)
	}
	if err := applied.ApplyCommand(CommandChange{Name: "set-plan", Desired: map[string]any{"plan": "night"}, Expires: time.Unix(1700000600, 0)}, at); err != nil {
		t.Fatal(err)
	}
	applied.RecordAccepted(12)
	applied.RecordRejection(signing.ReasonReplay)

	big := New("sl-1", "z1", "streetlight")
	if err := big.ApplyReported([]byte(`{"log":"`+strings.Repeat("é<", 4000)+`"}`), at, nil); err != nil {
		t.Fatal(err)
	}
	return map[string]*Document{
		"new":     New("aq-1", "z2", "air_quality"),
		"applied": applied,
		"big":     big,
		"by hand": {Device: "x\xff\xfe", Zone: "", Kind: "k\u2029", Version: 1 << 63,
			Reported: map[string]any{"a": nil, "b": []any{"\x00"}}, Desired: nil, Delta: map[string]any{}},
	}
}

// TestMarshalJSONIsEncodingJSONs: a document assembled from its parts is,
// byte for byte, what encoding/json writes for its fields, whether the
// parts were kept from its last change or are encoded afresh.
func TestMarshalJSONIsEncodingJSONs(t *testing.T) {
	for name, d := range encodingCases(t) {
		want := reference(t, d)
		got, err := d.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		fresh := *d
		fresh.enc = nil
		if got, _ := fresh.MarshalJSON(); !bytes.Equal(got, want) {
			t.Errorf("%s, encoded afresh:\n got %s\nwant %s", name, got, want)
		}
		if got, _ := json.Marshal(d); !bytes.Equal(got, want) {
			t.Errorf("%s, through json.Marshal:\n got %s\nwant %s", name, got, want)
		}
		p, _ := d.Parts()
		if size, err := d.size(p); err != nil || size != len(want) {
			t.Errorf("%s: size %d (%v), encoded %d bytes", name, size, err, len(want))
		}
	}
}

// TestPartsKeptFromTheLastChange: a change keeps the parts it encoded for
// its size check, so reading them again encodes nothing; a document that
// then holds another map (a copy-on-write change outside commit, or a
// field set by hand) encodes again and never serves the old bytes.
func TestPartsKeptFromTheLastChange(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	if err := d.ApplyReported([]byte(`{"on":true}`), FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	clone := d.Clone()
	if allocs := testing.AllocsPerRun(10, func() {
		if _, err := clone.Parts(); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("parts of a document as its last change left it: %v allocations, want 0", allocs)
	}
	clone.RecordAccepted(7) // the security counters are not a part
	if p, _ := clone.Parts(); string(p.Reported) != `{"on":true}` {
		t.Errorf("reported %s", p.Reported)
	}

	clone.Reported = map[string]any{"on": false}
	if p, _ := clone.Parts(); string(p.Reported) != `{"on":false}` {
		t.Errorf("after reported was replaced: %s", p.Reported)
	}
	if err := d.ApplyCommand(CommandChange{Name: "off", Desired: map[string]any{"on": false}, Expires: time.Unix(1, 0)}, FieldMeta{Ctr: 2}); err != nil {
		t.Fatal(err)
	}
	got, _ := d.MarshalJSON()
	if want := reference(t, d); !bytes.Equal(got, want) {
		t.Errorf("after a command:\n got %s\nwant %s", got, want)
	}
}

// TestSizeLimitCountsTheWholeDocument: the limit applies to the encoding
// MarshalJSON writes, to the byte.
func TestSizeLimitCountsTheWholeDocument(t *testing.T) {
	d := New("sl-1", "z1", "streetlight")
	patch := []byte(`{"note":"` + strings.Repeat("<", 100) + `"}`)
	try := d.Clone()
	if err := try.ApplyReported(patch, FieldMeta{Ctr: 1}, nil); err != nil {
		t.Fatal(err)
	}
	size := len(reference(t, try))
	if err := d.Clone().ApplyReportedWith(patch, FieldMeta{Ctr: 1}, Rules{MaxBytes: size}); err != nil {
		t.Errorf("a document of exactly the limit refused: %v", err)
	}
	err := d.ApplyReportedWith(patch, FieldMeta{Ctr: 1}, Rules{MaxBytes: size - 1})
	if signing.ReasonOf(err) != signing.ReasonInvalidState || d.Version != 0 {
		t.Errorf("one byte over the limit: %v, version %d", err, d.Version)
	}
}
