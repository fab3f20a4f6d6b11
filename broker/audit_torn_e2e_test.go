package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
)

// TestBrokerStartsOnAnAuditLogWithATornTail: a disk that filled mid-line
// once kept the edge down (the chain did not verify, so the broker refused
// to start). Now the broker starts, the torn bytes are kept in a side file,
// the cut is a security event in the log, the chain verifies, and devices
// work.
func TestBrokerStartsOnAnAuditLogWithATornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		l.Append(audit.Event{Time: time.Now().UTC(), Kind: "rejected", Device: "sl-1", Reason: "replay", Counter: uint64(i)})
	}
	l.Close()
	good, _ := os.ReadFile(path)
	torn := []byte(`{"seq":4,"prev":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f0`)
	os.WriteFile(path, append(bytes.Clone(good), torn...), 0o600)

	c := startCity(t, func(cfg *broker.Config) { cfg.Audit = path })
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"level":3}`))
	publish(t, dev, tp, 1, msg)
	if m := city.next(t); string(m.Payload()) != string(msg) {
		t.Fatalf("got %s", m.Topic())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	sides, _ := filepath.Glob(path + ".torn-*")
	if len(sides) != 1 {
		t.Fatalf("side files %v, want one", sides)
	}
	if saved, _ := os.ReadFile(sides[0]); !bytes.Equal(saved, torn) {
		t.Fatalf("side file holds %q, want the torn bytes", saved)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, good) {
		t.Fatal("the intact lines were changed")
	}
	evs := floodLines(t, path, broker.DefaultAuditLimits().MaxFieldBytes) // verifies the chain
	if ev := evs[3]; ev.Kind != audit.KindTornTail || !strings.Contains(ev.Detail, sides[0]) || !strings.Contains(ev.Detail, fmt.Sprintf("cut %d bytes", len(torn))) {
		t.Fatalf("line 4 = %+v, want the torn-tail event naming %s and the %d bytes cut", ev, sides[0], len(torn))
	}
}
