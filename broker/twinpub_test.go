package broker

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// TestTwinMessagesEncoding: the document and each part, assembled from
// parts encoded once, decode to what encoding the values directly gives,
// and the document's parts are the parts' own messages.
func TestTwinMessagesEncoding(t *testing.T) {
	doc := &twin.Document{
		Device: "tl-1", Zone: "z1", Kind: "traffic_signal", Version: 42,
		Reported: map[string]any{"mode": "normal", "groups": map[string]any{"2": map[string]any{"state": "green"}}},
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
