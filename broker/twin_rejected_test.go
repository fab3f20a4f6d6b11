package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/signing"
)

type recordedEvents struct{ got []audit.Event }

func (r *recordedEvents) Record(ev audit.Event) { r.got = append(r.got, ev) }

// TestTwinRejectionsBound walks the rejected topic's bound on a clock the
// test moves: per device, perSecond refusals a second are published, the
// rest summed in one summary per reason when the second is over; each
// device has its own budget; refusals of commands, of unknown devices and
// of topics in a foreign zone are not published; every event still reaches
// the security events.
func TestTwinRejectionsBound(t *testing.T) {
	zones := map[string]string{"sl-1": "z1", "sl-2": "z1"}
	next := &recordedEvents{}
	r := NewTwinRejections(next, func(d string) (string, bool) { z, ok := zones[d]; return z, ok }, 3, nil)
	now := time.Unix(1_800_000_000, 0)
	r.now = func() time.Time { return now }
	refuse := func(device, tp string, reason signing.Reason, ctr uint64) {
		recordRefusal(r, audit.Event{Time: now, Kind: "rejected", Client: device, Device: device, Topic: tp, Reason: string(reason), Counter: ctr},
			signing.Reject(reason, "protected.piv", "counter %d", ctr))
	}
	drain := func() []twinRejected {
		var out []twinRejected
		for {
			select {
			case m := <-r.queue:
				out = append(out, m)
			default:
				return out
			}
		}
	}
	for i := range 10 {
		refuse("sl-1", "city/z1/sl-1/state", signing.ReasonReplay, uint64(i+1))
	}
	refuse("sl-1", "city/z1/sl-1/tele/power", signing.ReasonBadSignature, 50)
	refuse("sl-2", "city/z1/sl-2/state", signing.ReasonReplay, 7)
	refuse("sl-1", "city/z1/sl-1/cmd/set-level", signing.ReasonReplay, 8) // an operator's
	refuse("sl-9", "city/z1/sl-9/state", signing.ReasonReplay, 9)         // no such device
	refuse("sl-1", "city/z2/sl-1/state", signing.ReasonZoneMismatch, 9)   // not its zone
	got := drain()
	if len(got) != 4 {
		t.Fatalf("published %d in the first second, want 3 of sl-1 and 1 of sl-2: %+v", len(got), got)
	}
	for i, m := range got[:3] {
		if m.topic != "$twin/z1/sl-1/rejected" || m.Reason != "replay" || m.Field != "protected.piv" || m.Counter != uint64(i+1) {
			t.Errorf("refusal %d: %+v", i, m)
		}
	}
	if got[3].topic != "$twin/z1/sl-2/rejected" || got[3].Counter != 7 {
		t.Errorf("sl-2's own budget: %+v", got[3])
	}
	if len(next.got) != 15 {
		t.Fatalf("%d security events, want all 15", len(next.got))
	}
	if s := r.sweep(); len(s) != 0 {
		t.Fatalf("summaries before the second is over: %+v", s)
	}
	now = now.Add(time.Second)
	sums := map[string]uint64{}
	for _, m := range r.sweep() {
		if m.topic != "$twin/z1/sl-1/rejected" || m.Counter != 0 {
			t.Fatalf("summary %+v", m)
		}
		sums[m.Reason] += m.Suppressed
	}
	if fmt.Sprint(sums) != fmt.Sprint(map[string]uint64{"bad_signature": 1, "replay": 7}) {
		t.Fatalf("summaries %v, want 7 replays and 1 bad signature counted", sums)
	}
	// A new second, a new budget.
	refuse("sl-1", "city/z1/sl-1/state", signing.ReasonReplay, 99)
	if got := drain(); len(got) != 1 || got[0].Counter != 99 {
		t.Fatalf("next second: %+v", got)
	}
}
