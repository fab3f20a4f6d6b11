package broker

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signet-city/signet/broker/audit"
)

func TestEventsReachAuditLogRingAndTopic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var published []string
	ev := NewEvents(log, slog.Default(), 3, 2)
	ev.SetPublisher(func(topic string, payload []byte, retain bool, qos byte) error {
		mu.Lock()
		defer mu.Unlock()
		if topic != EventsTopic || retain {
			t.Errorf("published on %q retain=%v", topic, retain)
		}
		published = append(published, string(payload))
		return nil
	})
	reasons := []string{"replay", "bad_signature", "malformed", "unknown_kid", "revoked"}
	for _, r := range reasons {
		ev.Record(audit.Event{Kind: "rejected", Reason: r})
	}
	if err := ev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(published) != len(reasons) {
		t.Fatalf("published %d events, want %d", len(published), len(reasons))
	}
	recent := ev.Recent(10)
	if len(recent) != 3 || recent[0].Reason != "malformed" || recent[2].Reason != "revoked" {
		t.Fatalf("recent = %+v, want the last three in order", recent)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sum, err := audit.Verify(f)
	if err != nil || sum.Lines != uint64(len(reasons)) {
		t.Fatalf("audit log: %d lines, err %v", sum.Lines, err)
	}
}
