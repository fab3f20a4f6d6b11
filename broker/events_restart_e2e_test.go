package broker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
)

// TestRecentEventsSurviveARestart: GET /api/v1/events (and the dashboard's
// counts drawn from it) once showed only events since the process started;
// the broker now reads the newest ones back from its audit log.
func TestRecentEventsSurviveARestart(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	dev := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"level":1}`))
	msg[len(msg)-1] ^= 1 // a bad signature: one security event
	publish(t, dev, tp, 1, msg)
	deadline := time.Now().Add(20 * time.Second)
	for len(c.srv.Events().Recent(10)) == 0 { // waits on the condition, with a deadline
		if time.Now().After(deadline) {
			t.Fatal("the bad signature was never recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	dev.Disconnect(100)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	cfg := broker.DefaultConfig()
	cfg.Store, cfg.Audit, cfg.MQTT, cfg.HTTP = c.store, c.audit, "127.0.0.1:0", "127.0.0.1:0"
	cfg.Users = []broker.User{{Name: "auditor", Role: broker.RoleAuditor, PasswordHash: passwordHash(t)}}
	srv, err := broker.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	code, body, _ := httpCall(t, "GET", "http://"+srv.HTTPAddr()+"/api/v1/events?n=100", "auditor", testPassword, "", "")
	if code != 200 {
		t.Fatalf("GET /api/v1/events: %d %s", code, body)
	}
	var evs []audit.Event
	if err := json.Unmarshal([]byte(body), &evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Reason != "bad_signature" || evs[0].Device != "sl-1" {
		t.Fatalf("events after the restart: %+v, want the bad signature from before it", evs)
	}
	// New events still arrive after the old ones.
	if code, _, _ := httpCall(t, "GET", "http://"+srv.HTTPAddr()+"/api/v1/twins", "auditor", "wrong", "", ""); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	deadline = time.Now().Add(20 * time.Second)
	for evs := srv.Events().Recent(10); len(evs) < 2 || evs[1].Reason != "bad_password"; evs = srv.Events().Recent(10) {
		if time.Now().After(deadline) {
			t.Fatalf("recent events %+v, want the old one, then the new bad_password", evs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
