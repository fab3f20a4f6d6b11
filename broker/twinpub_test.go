package broker

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// TestTwinMessagesEncoding: the document and each part, assembled from
// parts encoded once, decode to what encoding the values directly gives,
// and the document's parts are the parts' own messages.
func TestTwinMessagesEncoding(t *testing.T) {
	doc := &twin.Document{
		Device: "tl-1", Zone: "z1", Kind: "traffic_signal", Version: 42,
		Reported: map[string]any{"mode": "normal", "note": "<&>\u2028", "groups": map[string]any{"2": map[string]any{"state": "green"}}},
		Desired:  map[string]any{"plan": "weekday-am"},
		Delta:    nil,
	}
	msgs, err := twinMessages("z1", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1+len(topic.TwinParts) || msgs[0].topic != "$twin/z1/tl-1" {
		t.Fatalf("messages %+v", msgs)
	}
	exact, err := json.Marshal(struct {
		Device   string         `json:"device"`
		Zone     string         `json:"zone"`
		Kind     string         `json:"kind"`
		Version  uint64         `json:"version"`
		Reported map[string]any `json:"reported"`
		Desired  map[string]any `json:"desired"`
		Delta    map[string]any `json:"delta"`
		Meta     twin.Meta      `json:"meta"`
	}{doc.Device, "z1", doc.Kind, doc.Version, doc.Reported, doc.Desired, doc.Delta, doc.Meta})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msgs[0].body, exact) {
		t.Errorf("document\n got %s\nwant %s", msgs[0].body, exact)
	}
	var whole map[string]any
	if err := json.Unmarshal(msgs[0].body, &whole); err != nil {
		t.Fatalf("document %s: %v", msgs[0].body, err)
	}
	parts := map[string]any{"reported": doc.Reported, "desired": doc.Desired, "delta": doc.Delta, "meta": doc.Meta}
	want := map[string]any{"device": "tl-1", "zone": "z1", "kind": "traffic_signal", "version": 42}
	for k, v := range parts {
		want[k] = v
	}
	if !reflect.DeepEqual(whole, roundTrip(t, want)) {
		t.Errorf("document %s, want %v", msgs[0].body, want)
	}
	for i, part := range topic.TwinParts {
		m := msgs[1+i]
		if m.topic != "$twin/z1/tl-1/"+part {
			t.Errorf("part %d topic %q", i, m.topic)
		}
		var got map[string]any
		if err := json.Unmarshal(m.body, &got); err != nil {
			t.Fatalf("%s %s: %v", part, m.body, err)
		}
		if w := roundTrip(t, map[string]any{"version": 42, part: parts[part]}); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %s, want %v", part, m.body, w)
		}
		if !reflect.DeepEqual(got[part], whole[part]) {
			t.Errorf("%s differs between its message and the document", part)
		}
	}
}

// roundTrip is v as a JSON reader sees it.
func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkStateChangeEncodings is what one state change encodes: the size
// check of the change, the store's copy and the twin's retained messages.
func BenchmarkStateChangeEncodings(b *testing.B) {
	base := twin.New("tl-1", "z1", "traffic_signal")
	at := twin.FieldMeta{TS: time.Unix(1700000000, 0).UTC(), KID: "a1b2", Ctr: 1}
	if err := base.ApplyReported([]byte(`{"mode":"normal","plan":"am","groups":{"2":{"state":"green"},"4":{"state":"red"},"6":{"state":"red"}}}`), at, nil); err != nil {
		b.Fatal(err)
	}
	patch := []byte(`{"groups":{"2":{"state":"yellow"}}}`)
	b.ReportAllocs()
	for b.Loop() {
		d := base.Clone()
		if err := d.ApplyReported(patch, at, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := d.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
		if _, err := twinMessages("z1", d); err != nil {
			b.Fatal(err)
		}
	}
}
