package natsstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
)

// streamMessages reads every message of a stream (on subject, the only
// one the tests write there), in order.
func streamMessages(t *testing.T, url, stream, subject string) [][]byte {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte // the stream holds this subject alone in these tests
	for len(out) < int(info.CachedInfo().State.Msgs) {
		m, err := cons.Next(jetstream.FetchMaxWait(waitTimeout))
		if err != nil {
			break
		}
		out = append(out, m.Data())
	}
	return out
}

// TestTwinsOnlyGrow: a twin is written by compare-and-set and never to a
// lower version (another broker's newer twin stays, and the commit says
// so with the stored twin, for the edge to adopt, while its other changes
// are written); every twin whose version grew
// is appended to SIGNET_TWIN on signet.twin.<zone>.<device>, and a change
// of its security counters alone is not.
func TestTwinsOnlyGrow(t *testing.T) {
	url := natstest.Server(t).ClientURL()
	s := openOn(t, url, 1)
	ctx := context.Background()
	v1, v2 := []byte(`{"zone":"z1","version":1}`), []byte(`{"zone":"z1","version":2,"security":{"accepted":1}}`)
	for _, doc := range [][]byte{v1, v2, []byte(`{"zone":"z1","version":2,"security":{"accepted":2}}`)} {
		if err := s.Commit(ctx, []devices.Change{{Device: "d1", Twin: doc}}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Commit(ctx, []devices.Change{{Device: "d2", Twin: v1}, {Device: "d1", Twin: v1}})
	var conflict *devices.TwinConflictError
	if !errors.Is(err, devices.ErrConflict) || !errors.As(err, &conflict) || conflict.Device != "d1" ||
		string(conflict.Stored) != `{"zone":"z1","version":2,"security":{"accepted":2}}` {
		t.Fatalf("twin back to version 1: err = %v, want a twin conflict of d1 carrying its stored twin", err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Twins) != 2 || string(snap.Twins[0].Doc) != `{"zone":"z1","version":2,"security":{"accepted":2}}` || string(snap.Twins[1].Doc) != string(v1) {
		t.Fatalf("twins = %s, want d1 at version 2 with its last counters alone, and d2 written", snap.Twins)
	}
	got := streamMessages(t, url, natsstore.TwinStream, natsstore.TwinSubject("z1", "d1"))
	if len(got) != 2 || string(got[0]) != string(v1) || string(got[1]) != string(v2) {
		t.Fatalf("SIGNET_TWIN holds %q, want versions 1 and 2 once each", got)
	}
}

// TestStaleSavedWindowIsDropped: a replay window saved at a clean stop
// below the stored bound (another broker extended the lease since) is not
// written, and the rest of its commit is; a bare bound below the stored one
// is a conflict.
func TestStaleSavedWindowIsDropped(t *testing.T) {
	s := openOn(t, natstest.Server(t).ClientURL(), 1)
	ctx := context.Background()
	kid := []byte("k")
	if _, err := s.ExtendLeases(ctx, []devices.LeaseExtension{{KID: kid, From: 0, To: 200}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []devices.Change{{KID: kid, HighWater: 100, Window: []byte("old")}, {Device: "d1", Twin: []byte(`{"version":1}`)}}); err != nil {
		t.Fatalf("stale saved window: %v", err)
	}
	if err := s.Commit(ctx, []devices.Change{{KID: kid, HighWater: 100}}); !errors.Is(err, devices.ErrConflict) {
		t.Fatalf("bare bound below the stored one: err = %v, want ErrConflict", err)
	}
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Windows) != 1 || snap.Windows[0].HighWater != 200 || len(snap.Windows[0].State) != 0 || len(snap.Twins) != 1 {
		t.Fatalf("after the stale window: %+v, twins %d; want bound 200 alone and the twin", snap.Windows, len(snap.Twins))
	}
}

// TestRedact: a password in a server URL never reaches an error or a log;
// the rest of the list is left as it is.
func TestRedact(t *testing.T) {
	got := natsstore.Redact("nats://signet:s3cret@n1:4222,nats://n2:4222")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "n1:4222") || !strings.HasSuffix(got, ",nats://n2:4222") {
		t.Fatalf("Redact = %q", got)
	}
	_, err := natsstore.Open(context.Background(), natsstore.Options{Servers: "nats://signet:s3cret@127.0.0.1:1", Timeout: 100 * time.Millisecond})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open error %v: want an error without the password", err)
	}
}
