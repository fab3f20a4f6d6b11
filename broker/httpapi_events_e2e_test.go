package broker_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
)

// TestEventsPagingReadsTheAuditLog: GET /api/v1/events?limit=N pages
// through the audit log newest first, each page's next cursor leading to
// older events until the first; bad cursors and limits are refused with
// 400 naming the parameter, a viewer gets 403, and the ring form (?n=)
// still answers as before.
func TestEventsPagingReadsTheAuditLog(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
		cfg.AuditLimits.Burst = 1000
	})
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	dev := c.connect(t, "sl-1", "")
	const n = 12
	for i := range n {
		publish(t, dev, fmt.Sprintf("city/z1/sl-1/page-%02d/x/y", i), 0, []byte("x"))
	}
	for range n {
		nextEvent(t, events)
	}

	var topics []string
	var seqs []uint64
	path := "/api/v1/events?limit=5"
	for pages := 0; ; pages++ {
		code, body := apiGet(t, c, "auditor", path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var page broker.EventsPage
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 5 || pages > 50 {
			t.Fatalf("page of %d events, %d pages", len(page.Events), pages)
		}
		for _, e := range page.Events {
			seqs = append(seqs, e.Seq)
			if strings.Contains(e.Topic, "/page-") {
				topics = append(topics, e.Topic)
			}
		}
		if page.Next == "" {
			break
		}
		path = "/api/v1/events?limit=5&before=" + page.Next
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]-1 {
			t.Fatalf("seqs %v: not newest first without gaps", seqs)
		}
	}
	if len(topics) != n || !strings.Contains(topics[0], "page-11") || !strings.Contains(topics[n-1], "page-00") || seqs[len(seqs)-1] != 1 {
		t.Fatalf("paged topics %v (seqs %v), want all %d newest first down to seq 1", topics, seqs, n)
	}

	for q, want := range map[string]string{
		"limit=0": "limit:", "limit=100000": "limit:", "limit=x": "limit:",
		"before=abc": "before:", "limit=5&before=0": "before:", "before=-1": "before:",
	} {
		code, body := apiGet(t, c, "auditor", "/api/v1/events?"+q)
		if code != http.StatusBadRequest || !strings.HasPrefix(body, want) {
			t.Errorf("?%s: %d %q, want 400 starting %q", q, code, body, want)
		}
	}
	if code, _ := apiGet(t, c, "viewer-z1", "/api/v1/events?limit=5"); code != http.StatusForbidden {
		t.Errorf("viewer paging events: %d, want 403", code)
	}
	code, body := apiGet(t, c, "admin", "/api/v1/events?n=3")
	var ring []json.RawMessage
	if err := json.Unmarshal([]byte(body), &ring); code != http.StatusOK || err != nil || len(ring) != 3 {
		t.Fatalf("ring form: %d %v %d", code, err, len(ring))
	}
}
