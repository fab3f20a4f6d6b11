package devices_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// TestTrafficSignalStateThroughCommit drives a traffic signal's reported
// state through Edge.Commit (SPEC §4 steps 10 and 11): a valid phase
// sequence is merged into the twin with version, meta and delta; reports no
// controller could make (green in flash mode, red to yellow, red to dark, a
// since in 2255, a plan it does not have) are refused with invalid_state, leave the twin as it was,
// leave their counter unused, and are flagged in the twin's security
// counters when the caller records them. After a restart the twin and its
// counters are as they were.
func TestTrafficSignalStateThroughCommit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	ts, _ := newKey(t)
	plan := json.RawMessage(`{"groups":["2","4"],"compatible":[],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`)
	reg := devices.NewRegistry(f.store, f.clk.now)
	if err := reg.Enroll(ctx, devices.Device{ID: "ts-1", Zone: "z1", Kind: "traffic-signal", Keys: []devices.Key{ts}, Params: plan}); err != nil {
		t.Fatal(err)
	}
	if err := f.edge.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	stateIn := func(mode, g2 string, since2 int, g4 string, since4 int) []byte {
		return fmt.Appendf(nil, `{"mode":%q,"groups":{"2":{"state":%q,"since":%d},"4":{"state":%q,"since":%d}}}`, mode, g2, since2, g4, since4)
	}
	state := func(g2 string, since2 int, g4 string, since4 int) []byte {
		return stateIn("normal", g2, since2, g4, since4)
	}
	in2255 := int(time.Date(2255, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	steps := []struct {
		name  string
		ctr   uint64
		patch []byte
		want  signing.Reason
		field string
	}{
		{"2 green, 4 red", 1, state("green", 1000, "red", 1000), "", ""},
		{"conflicting greens in flash mode", 2, stateIn("flash", "green", 1000, "green", 9000), signing.ReasonInvalidState, "groups.2"},
		{"4 red to yellow", 3, state("green", 1000, "yellow", 9000), signing.ReasonInvalidState, "groups.4"},
		{"green to yellow", 4, state("yellow", 9000, "red", 1000), "", ""},
		{"red in 2255", 5, state("red", in2255, "red", 1000), signing.ReasonInvalidState, "groups.2.since"},
		{"full yellow, then red", 6, state("red", 13000, "red", 1000), "", ""},
		{"4 red to dark in normal mode", 7, state("red", 13000, "dark", 13500), signing.ReasonInvalidState, "groups.4"},
		{"4 green after red clearance", 8, state("red", 13000, "green", 14000), "", ""},
		{"a plan the controller does not have", 9, []byte(`{"plan":"weekday-am"}`), signing.ReasonInvalidState, "plan"},
		{"counter of a refused state is still free", 2, []byte(`{"plan":"fixed-time"}`), "", ""},
	}
	var lastGood []byte
	version := uint64(0)
	for _, st := range steps {
		before, _ := f.edge.Twin("ts-1")
		doc, err := f.edge.Commit(ctx, devices.Update{KID: ts.KID, Counter: st.ctr, Kind: devices.State, Patch: st.patch, TS: f.clk.t})
		if got := reasonOf(err); got != st.want {
			t.Fatalf("%s: reason %q (%v), want %q", st.name, got, err, st.want)
		}
		if st.want != "" {
			var rej *signing.Rejection
			if !errors.As(err, &rej) || rej.Field != st.field {
				t.Fatalf("%s: field %q, want %q", st.name, rej.Field, st.field)
			}
			f.edge.RecordRejection("ts-1", st.want)
			after, _ := f.edge.Twin("ts-1")
			if !reflect.DeepEqual(after.Reported, before.Reported) || after.Version != before.Version {
				t.Fatalf("%s: refused state changed the twin: %v", st.name, after.Reported)
			}
			continue
		}
		version++
		if doc.Version != version {
			t.Fatalf("%s: version %d, want %d", st.name, doc.Version, version)
		}
		if m, _ := doc.Meta.Reported["groups"].Newest(); bytes.Contains(st.patch, []byte(`"groups"`)) && (m.Ctr != st.ctr || m.KID != signing.FormatKeyID(ts.KID)) {
			t.Fatalf("%s: meta of groups = %+v, want counter %d", st.name, m, st.ctr)
		}
		lastGood, _ = json.Marshal(doc.Reported["groups"])
	}

	// An operator's desired plan, and the delta against reported.
	if _, err := f.edge.Commit(ctx, devices.Update{KID: f.op1.KID, Counter: 1, Kind: devices.Desired, Device: "ts-1", Patch: []byte(`{"plan":"weekday-pm","mode":"normal"}`), TS: f.clk.t}); err != nil {
		t.Fatal(err)
	}
	doc, _ := f.edge.Twin("ts-1")
	if !reflect.DeepEqual(doc.Delta, map[string]any{"plan": "weekday-pm"}) {
		t.Fatalf("delta = %v, want plan only", doc.Delta)
	}
	wantRejected := map[string]uint64{string(signing.ReasonInvalidState): 5}
	// Accepted: five state messages and the operator's command.
	if !reflect.DeepEqual(doc.Security.Rejected, wantRejected) || doc.Security.Accepted != 6 || doc.Security.LastCtr != 8 {
		t.Fatalf("security = %+v, want 6 accepted, last counter 8, 5 invalid_state", doc.Security)
	}

	// Strict commits are durable; the rejection counters are written at close.
	f.reopen(t, devices.Options{})
	again, _ := f.edge.Twin("ts-1")
	groups, _ := json.Marshal(again.Reported["groups"])
	if string(groups) != string(lastGood) || !reflect.DeepEqual(again.Security, doc.Security) || again.Version != doc.Version {
		t.Fatalf("after restart: groups %s security %+v version %d; want %s %+v %d", groups, again.Security, again.Version, lastGood, doc.Security, doc.Version)
	}
}

// TestTrafficSignalFaultThroughCommit: a validly signed report of what a
// conflict monitor trips on (conflicting greens) is not refused: the twin
// keeps the state as reported and shows the fault; the fault stays while the
// controller shows flash, a green in that boot is refused, and a new boot
// clears it.
func TestTrafficSignalFaultThroughCommit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, devices.Options{})
	ts, _ := newKey(t)
	plan := json.RawMessage(`{"groups":["2","4"],"compatible":[],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`)
	reg := devices.NewRegistry(f.store, f.clk.now)
	if err := reg.Enroll(ctx, devices.Device{ID: "ts-1", Zone: "z1", Kind: "traffic-signal", Keys: []devices.Key{ts}, Params: plan}); err != nil {
		t.Fatal(err)
	}
	if err := f.edge.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	commit := func(ctr uint64, patch string) (map[string]any, error) {
		doc, err := f.edge.Commit(ctx, devices.Update{KID: ts.KID, Counter: ctr, Kind: devices.State, Patch: []byte(patch), TS: f.clk.t})
		if err != nil {
			return nil, err
		}
		return doc.Reported, nil
	}
	if _, err := commit(1, `{"mode":"normal","boot":500,"groups":{"2":{"state":"red","since":1000},"4":{"state":"red","since":1000}}}`); err != nil {
		t.Fatal(err)
	}
	rep, err := commit(2, `{"groups":{"2":{"state":"green","since":3000},"4":{"state":"green","since":3000}}}`)
	if err != nil {
		t.Fatalf("a signed report of conflicting greens was refused: %v", err)
	}
	fault, _ := rep["fault"].(map[string]any)
	if fault["reason"] != "conflict" || rep["groups"].(map[string]any)["4"].(map[string]any)["state"] != "green" {
		t.Fatalf("twin after the conflict: %v; want the greens as reported and a conflict fault", rep)
	}
	if rep, err = commit(3, `{"mode":"flash","groups":{"2":{"state":"flash","since":3001},"4":{"state":"flash","since":3001}}}`); err != nil || rep["fault"] == nil {
		t.Fatalf("flash after the fault: %v, twin %v", err, rep)
	}
	if _, err := commit(4, `{"mode":"normal","groups":{"2":{"state":"red","since":4000},"4":{"state":"red","since":4000}}}`); err != nil {
		t.Fatalf("all red in the faulted boot: %v", err)
	}
	if _, err := commit(5, `{"groups":{"2":{"state":"green","since":9000}}}`); reasonOf(err) != signing.ReasonInvalidState {
		t.Fatalf("green while in fault: %v, want invalid_state", err)
	}
	rep, err = commit(6, `{"mode":"flash","boot":20000,"groups":{"2":{"state":"flash","since":20000},"4":{"state":"flash","since":20000}}}`)
	if err != nil || rep["fault"] != nil {
		t.Fatalf("a new boot: %v, twin %v; want the fault cleared", err, rep)
	}
}
