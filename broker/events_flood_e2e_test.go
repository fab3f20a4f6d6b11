package broker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
)

// rawConnect sends one MQTT 3.1.1 CONNECT (§3.1) with the given client id,
// user and password over its own TCP connection and reports whether the
// broker accepted it (CONNACK return code 0, §3.2.2.3).
func rawConnect(addr, clientID, user, pass string) (bool, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	body := appendMQTTString(nil, "MQTT")
	body = append(body, 4, 0xc2, 0, 30) // level 4; user, password, clean session; keep alive 30 s
	body = appendMQTTString(body, clientID)
	body = appendMQTTString(body, user)
	body = appendMQTTString(body, pass)
	if _, err := conn.Write(mqttPacket(0x10, body)); err != nil {
		return false, nil // refused before reading it all
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(bufio.NewReader(conn), ack); err != nil {
		return false, nil // closed without a CONNACK: refused
	}
	return ack[0] == 0x20 && ack[3] == 0, nil
}

// floodLines reads the verified audit log, failing on any line at or past
// the bound the limits allow.
func floodLines(t *testing.T, path string, maxField int) []audit.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.VerifyFiles([]string{path}); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	bound := audit.MaxLineBytes(maxField)
	var out []audit.Event
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if len(line) >= bound {
			t.Fatalf("line of %d bytes, bound %d: %.200s", len(line), bound, line)
		}
		var rec struct{ Event audit.Event }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec.Event)
	}
	return out
}

// TestEventFloodsCannotFillTheAuditLog: 1,000 CONNECTs with 60 KB client ids
// and bad passwords, and a device publishing at QoS 0 to a 60 KB topic, are
// all refused, yet cost the audit log a few short lines per source (bounded
// by the limits) and aggregates that count the rest; an honest device's
// messages go through all the while and its own event is written.
func TestEventFloodsCannotFillTheAuditLog(t *testing.T) {
	lim := broker.AuditLimits{MaxFieldBytes: 256, Burst: 20, Window: time.Hour, MaxSources: 4096}
	c := startCity(t, func(cfg *broker.Config) { cfg.AuditLimits = lim })
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/z1/sl-1/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	honest := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	level := 0
	honestSends := func() {
		t.Helper()
		level++
		msg := c.devs["sl-1"].sign(t, tp, []byte(fmt.Sprintf(`{"level":%d}`, level)))
		publish(t, honest, tp, 1, msg)
		if m := city.next(t); string(m.Payload()) != string(msg) {
			t.Fatalf("honest message %d did not go through: got %s", level, m.Topic())
		}
	}
	honestSends()

	// 1,000 unauthenticated CONNECTs, eight at a time.
	const connects = 1000
	long := strings.Repeat("C", 60<<10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				user := "nobody-" + long[:100] // no such user: a bad connect token
				if i%250 == 0 {
					user = "admin" // a real user, the wrong password
				}
				ok, err := rawConnect(c.srv.MQTTAddr(), fmt.Sprintf("%s-%d", long, i), user, "wrong-"+long[:1000])
				mu.Lock()
				if err != nil {
					t.Error(err)
				}
				if ok {
					accepted++
				}
				mu.Unlock()
			}
		})
	}
	for i := range connects {
		next <- i
		if i == connects/2 {
			honestSends() // in the middle of the flood
		}
	}
	close(next)
	wg.Wait()
	if accepted != 0 {
		t.Fatalf("%d flooding CONNECTs were accepted", accepted)
	}
	honestSends()

	// A device publishing to a 60 KB topic at QoS 0.
	flooder := c.connect(t, "sl-2", "")
	badTopic := "city/z1/sl-2/" + strings.Repeat("t", 60<<10)
	const publishes = 500
	before := c.srv.Events().Stats().Recorded
	for range publishes {
		flooder.Publish(badTopic, 0, false, []byte("x"))
	}
	deadline := time.Now().Add(60 * time.Second)
	for c.srv.Events().Stats().Recorded < before+publishes { // waits on the condition, with a deadline
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d bad_topic events recorded", c.srv.Events().Stats().Recorded-before, publishes)
		}
		time.Sleep(10 * time.Millisecond)
	}
	honestSends()

	// The honest device's own mistake (a replayed message) is its event,
	// written and published however much the others flooded.
	replay := c.devs["sl-1"].sign(t, tp, []byte(`{"level":1}`))
	publish(t, honest, tp, 1, replay)
	publish(t, honest, tp, 1, replay)
	for m := city.next(t); string(m.Payload()) != string(replay); m = city.next(t) {
	}
	for ev := nextEvent(t, events); ev.Device != "sl-1" || ev.Reason != "replay"; ev = nextEvent(t, events) {
	}
	honestSends()

	stats := c.srv.Events().Stats()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil { // writes the aggregates
		t.Fatal(err)
	}
	evs := floodLines(t, c.audit, lim.MaxFieldBytes)
	sources := map[string]bool{}
	var written, counted uint64
	var honestEvent bool
	for _, ev := range evs {
		switch {
		case ev.Kind == broker.KindSuppressed:
			counted += ev.Count
			sources[ev.Source] = true
		case ev.Kind == audit.KindRotated || ev.Kind == audit.KindTornTail:
		default:
			written++
		}
		if ev.Device == "sl-1" && ev.Reason == "replay" {
			honestEvent = true
		}
	}
	if !honestEvent {
		t.Error("the honest device's replay event is not in the audit log")
	}
	if written+counted != stats.Recorded || counted != stats.Suppressed {
		t.Fatalf("the log accounts for %d written + %d counted events, the broker recorded %+v", written, counted, stats)
	}
	// Three sources (the flooding host, the flooding device, the honest
	// device), each at most Burst lines plus one aggregate per kind and
	// reason (at most two each here) in the one window.
	const nSources, pairs = 3, 2
	bound := int64(nSources * (lim.Burst + pairs) * audit.MaxLineBytes(lim.MaxFieldBytes))
	st, _ := os.Stat(c.audit)
	if st.Size() > bound {
		t.Fatalf("the audit log grew to %d bytes, bound %d", st.Size(), bound)
	}
	t.Logf("%d events recorded, %d counted in %d aggregates; audit log %d bytes (bound %d)", stats.Recorded, counted, len(sources), st.Size(), bound)
}
