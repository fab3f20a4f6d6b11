package devices_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// TestCommitPayloadRules: state and desired patches must be strict JSON of
// the kind's fields, deletions included, and keep the twin within
// Options.MaxTwinBytes; a refused one leaves the twin as it was and its
// counter free, and honest changes keep committing.
func TestCommitPayloadRules(t *testing.T) {
	ctx := context.Background()
	const limit = 700
	f := newFixture(t, devices.Options{MaxTwinBytes: limit, MaxPatchDepth: 4})
	ts := f.clk.t
	state := func(ctr uint64, p string) devices.Update {
		return devices.Update{KID: f.aq1.KID, Counter: ctr, Kind: devices.State, Patch: []byte(p), TS: ts}
	}
	desired := func(ctr uint64, p string) devices.Update {
		return devices.Update{KID: f.op1.KID, Counter: ctr, Kind: devices.Desired, Device: "aq-1", Patch: []byte(p), TS: ts}
	}
	if _, err := f.edge.Commit(ctx, state(1, `{"pm25":3,"units":{"pm25":"ug/m3"}}`)); err != nil {
		t.Fatal(err)
	}
	before, _ := f.edge.Twin("aq-1")
	full := `{"pm25":12.5,"pm10":20.1,"no2":33.3,"o3":41.2,"temp_c":14.4,"humidity":56.1,"status":"warming-up","units":{"pm25":"ug/m3","pm10":"ug/m3","no2":"ppb","o3":"ppb"}}`
	for _, c := range []struct {
		name  string
		u     devices.Update
		field string
	}{
		{"duplicate member", state(2, `{"pm25":900,"pm25":3}`), "pm25"},
		{"delete a field the kind lacks", state(2, `{"`+strings.Repeat("k", 4096)+`":null}`), ""},
		{"desired deletes a field the kind lacks", desired(1, `{"colour":null}`), "colour"},
		{"too deep", state(2, `{"pm25":[[[[1]]]]}`), "pm25[0][0][0]"},
		{"over the twin size", state(2, full), "twin"},
	} {
		_, err := f.edge.Commit(ctx, c.u)
		var rej *signing.Rejection
		if reasonOf(err) != signing.ReasonInvalidState || (c.field != "" && (!asRejection(err, &rej) || rej.Field != c.field)) {
			t.Errorf("%s: got %.200v, want invalid_state at %q", c.name, err, c.field)
		}
	}
	after, _ := f.edge.Twin("aq-1")
	if after.Version != before.Version || !reflect.DeepEqual(after.Meta, before.Meta) || len(after.Desired) != 0 {
		t.Fatalf("a refused patch changed the twin: %+v", after)
	}
	// The unit stated in the first report is kept in the twin.
	if _, err := f.edge.Commit(ctx, state(2, `{"pm25":4,"status":"ok"}`)); err != nil {
		t.Fatalf("honest state on the refused counter: %v", err)
	}
	if _, err := f.edge.Commit(ctx, desired(1, `{"status":"ok"}`)); err != nil {
		t.Fatalf("honest desired: %v", err)
	}
	doc, _ := f.edge.Twin("aq-1")
	if b, _ := json.Marshal(doc); doc.Reported["pm25"] != 4.0 || doc.Desired["status"] != "ok" || len(b) > limit {
		t.Fatalf("twin after honest changes: %s", b)
	}
}

func asRejection(err error, out **signing.Rejection) bool {
	r, ok := err.(*signing.Rejection)
	*out = r
	return ok
}
