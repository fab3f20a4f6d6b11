package broker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/audit"
)

// auditLines reads every event of a verified audit log and checks that no
// line passes the bound the limits allow.
func auditLines(t *testing.T, path string, maxField int) []audit.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := audit.Verify(f); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	f.Seek(0, io.SeekStart)
	var out []audit.Event
	bound := audit.MaxLineBytes(maxField)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(sc.Bytes()) >= bound {
			t.Fatalf("line of %d bytes, bound %d: %.200s", len(sc.Bytes()), bound, sc.Bytes())
		}
		var rec struct{ Event audit.Event }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Event)
	}
	return out
}

// cutMarker ends a 60 KB value (plus a short suffix) cut by Bound.
var cutMarker = regexp.MustCompile(`^A+\.\.\.\(cut, 614[0-9]{2} bytes, sha256 [0-9a-f]{16}\)$`)

// accounted is how many recorded events the log accounts for: the events
// written one by one plus the counts of the aggregates.
func accounted(evs []audit.Event, match func(audit.Event) bool) uint64 {
	var n uint64
	for _, ev := range evs {
		switch {
		case ev.Kind == KindSuppressed && match(audit.Event{Kind: ev.OfKind, Reason: ev.Reason}):
			n += ev.Count
		case ev.Kind != KindSuppressed && match(ev):
			n++
		}
	}
	return n
}

func openEvents(t *testing.T, lim AuditLimits) (*Events, string) {
	return openEventsAt(t, lim, time.Now)
}

func openEventsAt(t *testing.T, lim AuditLimits, now func() time.Time) (*Events, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return newEvents(log, slog.New(slog.NewTextHandler(io.Discard, nil)), 64, 16, lim, now), path
}

// fakeClock is a clock the test moves.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// TestEventFloodIsBoundedAndCounted: 1,000 failed CONNECTs with 60 KB client
// ids from one host cost the log a bounded number of short lines, the
// aggregate says how many were not written, and an honest device's event
// in the middle of the flood is written.
func TestEventFloodIsBoundedAndCounted(t *testing.T) {
	lim := AuditLimits{MaxFieldBytes: 256, Burst: 20, Window: time.Hour, MaxSources: 4096}
	ev, path := openEvents(t, lim)
	long := strings.Repeat("A", 60<<10)
	const flood = 1000
	for i := range flood {
		ev.Record(audit.Event{Time: time.Now().UTC(), Kind: "auth_failed", Client: long + fmt.Sprint(i), User: long,
			Remote: fmt.Sprintf("203.0.113.7:%d", 1024+i), Reason: "bad_password", Detail: "wrong password for user " + long})
		if i == flood/2 {
			ev.Record(audit.Event{Kind: "rejected", Client: "sl-1", User: "sl-1", Remote: "203.0.113.7:999", Device: "sl-1", Reason: "replay"})
		}
	}
	if err := ev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := auditLines(t, path, lim.MaxFieldBytes)
	// One source for the flood: Burst lines and one aggregate; one for the device.
	if want := lim.Burst + 1 + 1; len(evs) != want {
		t.Fatalf("%d lines, want %d", len(evs), want)
	}
	st, _ := os.Stat(path)
	if bound := int64(len(evs) * audit.MaxLineBytes(lim.MaxFieldBytes)); st.Size() > bound {
		t.Fatalf("audit log is %d bytes, bound %d", st.Size(), bound)
	}
	if n := accounted(evs, func(e audit.Event) bool { return e.Reason == "bad_password" }); n != flood {
		t.Fatalf("the log accounts for %d failed CONNECTs, want %d", n, flood)
	}
	var agg, honest int
	for _, e := range evs {
		if e.Kind == KindSuppressed {
			agg++
			if e.Count != flood-uint64(lim.Burst) || e.Source != "address 203.0.113.7" || e.OfKind != "auth_failed" ||
				!strings.Contains(e.Detail, fmt.Sprintf("%d more like this (auth_failed, bad_password)", flood-lim.Burst)) {
				t.Errorf("aggregate %+v", e)
			}
		}
		if e.Reason == "replay" && e.Device == "sl-1" {
			honest++
		}
		if e.Kind == "auth_failed" && !cutMarker.MatchString(e.Client) {
			t.Errorf("client id %.80q... not marked as cut with its length", e.Client)
		}
	}
	if agg != 1 || honest != 1 {
		t.Fatalf("%d aggregates and %d honest events, want 1 and 1", agg, honest)
	}
	if s := ev.Stats(); s.Recorded != flood+1 || s.Suppressed != flood-uint64(lim.Burst) {
		t.Fatalf("stats %+v", s)
	}
}

// TestAggregateIsWrittenWhenTheWindowCloses: with no later event from the
// source, the sweeper writes the aggregate when the window ends (not only at
// shutdown), and publishes it.
func TestAggregateIsWrittenWhenTheWindowCloses(t *testing.T) {
	lim := AuditLimits{Burst: 3, Window: 50 * time.Millisecond}
	clock := &fakeClock{}
	clock.add(time.Hour)
	ev, path := openEventsAt(t, lim, clock.now)
	got := make(chan audit.Event, 64)
	ev.SetPublisher(func(_ string, payload []byte, _ bool, _ byte) error {
		var e audit.Event
		json.Unmarshal(payload, &e)
		got <- e
		return nil
	})
	for range 10 {
		ev.Record(audit.Event{Kind: "rejected", User: "tl-4", Reason: "bad_topic", Topic: strings.Repeat("t/", 30000)})
	}
	clock.add(lim.Window) // the window closes with no later event from tl-4
	deadline := time.After(20 * time.Second)
	var agg audit.Event
	for agg.Kind != KindSuppressed {
		select {
		case agg = <-got:
		case <-deadline:
			t.Fatal("no aggregate event after the window closed")
		}
	}
	if agg.Count != 7 || agg.Source != "user tl-4" || agg.Reason != "bad_topic" {
		t.Fatalf("aggregate %+v, want 7 bad_topic from user tl-4", agg)
	}
	// The source's next window starts afresh: its next event is written.
	ev.Record(audit.Event{Kind: "rejected", User: "tl-4", Reason: "replay"})
	if err := ev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := auditLines(t, path, DefaultAuditLimits().MaxFieldBytes)
	if n := accounted(evs, func(audit.Event) bool { return true }); n != 11 || evs[len(evs)-1].Reason != "replay" {
		t.Fatalf("log accounts for %d events (want 11), last %+v", n, evs[len(evs)-1])
	}
}

// TestSourcesPastMaxSourcesShareOneBudget: a client that varies its address
// or identity per event cannot multiply the budget past MaxSources.
func TestSourcesPastMaxSourcesShareOneBudget(t *testing.T) {
	lim := AuditLimits{Burst: 5, Window: time.Hour, MaxSources: 4}
	ev, path := openEvents(t, lim)
	const sources, each = 10, 30
	for s := range sources {
		for range each {
			ev.Record(audit.Event{Kind: "auth_failed", Remote: fmt.Sprintf("198.51.100.%d:4000", s), Reason: "bad_token"})
		}
	}
	if err := ev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := auditLines(t, path, DefaultAuditLimits().MaxFieldBytes)
	// Four own sources and the shared one: Burst lines and one aggregate each.
	if want := (lim.MaxSources + 1) * (lim.Burst + 1); len(evs) != want {
		t.Fatalf("%d lines, want %d", len(evs), want)
	}
	if n := accounted(evs, func(e audit.Event) bool { return e.Reason == "bad_token" }); n != sources*each {
		t.Fatalf("log accounts for %d events, want %d", n, sources*each)
	}
	var other uint64
	for _, e := range evs {
		if e.Kind == KindSuppressed && e.Source == otherSource {
			other = e.Count
		}
	}
	if want := uint64((sources-lim.MaxSources)*each - lim.Burst); other != want {
		t.Fatalf("other sources aggregate counts %d, want %d", other, want)
	}
}

func TestEventSourceOfEachKind(t *testing.T) {
	for _, c := range []struct {
		ev   audit.Event
		want string
	}{
		{audit.Event{Kind: "auth_failed", Client: "x", User: "claimed", Remote: "192.0.2.1:5555"}, "address 192.0.2.1"},
		{audit.Event{Kind: "auth_failed", Remote: "[2001:db8::1]:5555"}, "address 2001:db8::1"},
		{audit.Event{Kind: "rejected", Client: "sl-1", User: "sl-9", Remote: "192.0.2.1:5555"}, "client sl-1"},
		{audit.Event{Kind: "rejected", User: "gw", Remote: "192.0.2.1:5555"}, "user gw"},
		{audit.Event{Kind: "admin"}, "broker"},
	} {
		if got := eventSource(c.ev); got != c.want {
			t.Errorf("%+v: source %q, want %q", c.ev, got, c.want)
		}
	}
}
