package broker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
)

// sse is one server-sent event as read off the wire.
type sse struct {
	event string
	data  string
}

// sseStream is an open GET /api/v1/stream read by a goroutine.
type sseStream struct {
	events chan sse
	ended  chan struct{} // closed when the stream ended
	cancel context.CancelFunc
}

// openStream starts GET /api/v1/stream as user (basic auth with the test
// password); it returns the HTTP status and, on 200, the stream.
func openStream(t *testing.T, c *city, user string) (int, string, *sseStream) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.srv.HTTPAddr()+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("stream as %s: %v", user, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		b := make([]byte, 512)
		n, _ := resp.Body.Read(b)
		return resp.StatusCode, resp.Header.Get("Retry-After") + " " + string(b[:n]), nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("stream Content-Type %q", ct)
	}
	s := &sseStream{events: make(chan sse, 4096), ended: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(s.ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if cur.event != "" {
					select {
					case s.events <- cur:
					default: // the test stopped reading this one
					}
				}
				cur = sse{}
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(cancel)
	return http.StatusOK, "", s
}

// until reads events until match says so, failing after a liveness bound.
// It returns every event read, the matching one last.
func (s *sseStream) until(t *testing.T, what string, match func(sse) bool) []sse {
	t.Helper()
	var seen []sse
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-s.events:
			seen = append(seen, ev)
			if match(ev) {
				return seen
			}
		case <-s.ended: // what was read before the end still counts
			for {
				select {
				case ev := <-s.events:
					seen = append(seen, ev)
					if match(ev) {
						return seen
					}
					continue
				default:
				}
				break
			}
			t.Fatalf("stream ended before %s", what)
		case <-deadline:
			t.Fatalf("no %s on the stream", what)
		}
	}
}

// twinOf matches a twin event for device whose reported field is v.
func twinOf(device, field string, v float64) func(sse) bool {
	return func(ev sse) bool {
		if ev.event != "twin" {
			return false
		}
		var d struct {
			Device   string         `json:"device"`
			Reported map[string]any `json:"reported"`
		}
		return json.Unmarshal([]byte(ev.data), &d) == nil && d.Device == device && d.Reported[field] == v
	}
}

// TestStreamLimitsRefuseWith429: with two streams per user and three in
// all, a user's third stream and the fourth stream in all are refused with
// 429 and Retry-After naming the key, while the open streams go on
// delivering twin changes; once one closes, its user may open another.
func TestStreamLimitsRefuseWith429(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
		cfg.Dashboard = broker.DashboardConfig{MaxStreams: 3, MaxStreamsPerUser: 2}
	})
	_, _, v1 := openStream(t, c, "viewer-z1")
	_, _, v2 := openStream(t, c, "viewer-z1")
	for _, s := range []*sseStream{v1, v2} {
		s.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	}
	code, body, _ := openStream(t, c, "viewer-z1")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "max_streams_per_user") || strings.HasPrefix(body, " ") {
		t.Fatalf("third stream of one user: %d %q, want 429 with Retry-After naming max_streams_per_user", code, body)
	}
	_, _, a1 := openStream(t, c, "admin")
	a1.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	code, body, _ = openStream(t, c, "auditor")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "dashboard.max_streams:") {
		t.Fatalf("fourth stream in all: %d %q, want 429 naming max_streams", code, body)
	}

	// The streams that are open keep working.
	dev := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	publish(t, dev, tp, 1, c.devs["sl-1"].sign(t, tp, []byte(`{"on":true,"level":41}`)))
	for _, s := range []*sseStream{v1, v2, a1} {
		s.until(t, "sl-1's twin change", twinOf("sl-1", "level", 41))
	}

	// One closes: a slot is free again (the handler notices the close on
	// its own goroutine, so try until it has).
	v2.cancel()
	<-v2.ended
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, s := openStream(t, c, "viewer-z1")
		if code == http.StatusOK {
			s.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
			break
		}
		if code != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("stream after one closed: %d %q", code, body)
		}
	}
}

// slowDialer connects with a tiny receive buffer (set before connect, so
// the advertised window is small too), for a reader that never reads.
func slowDialer() *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
		if cerr != nil {
			return cerr
		}
		return err
	}}
}

// status reads GET /api/v1/status as admin.
func status(t *testing.T, c *city) broker.Status {
	t.Helper()
	resp, body := apiGet(t, c, "admin", "/api/v1/status")
	if resp != http.StatusOK {
		t.Fatalf("status: %d %s", resp, body)
	}
	var st broker.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// apiGet answers GET path as user.
func apiGet(t *testing.T, c *city, user, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+c.srv.HTTPAddr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return resp.StatusCode, b.String()
}

// TestStreamDropsSlowReader: an auditor's stream whose reader never reads
// (a raw TCP connection with a tiny window) is dropped once its queue
// fills under a flood of security events, rather than buffered without
// bound; a z1 viewer's stream, read as it should be, keeps delivering
// throughout, and so does the broker's API.
func TestStreamDropsSlowReader(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
		cfg.RatePerClient = 0 // the flood must reach the events, not the rate limit
		cfg.AuditLimits.Burst, cfg.AuditLimits.MaxFieldBytes = 1_000_000, 4096
		cfg.Payload.MaxTopicBytes = 4000
		cfg.Dashboard = broker.DashboardConfig{StreamQueue: 16, WriteTimeout: 2 * time.Second}
	})
	_, _, viewer := openStream(t, c, "viewer-z1")
	viewer.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })

	conn, err := slowDialer().Dial("tcp", c.srv.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.srv.HTTPAddr()+"/api/v1/stream", nil)
	req.SetBasicAuth("auditor", testPassword)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	// Wait until the broker counts the auditor's stream (it never reads).
	for deadline := time.Now().Add(30 * time.Second); ; {
		if st := status(t, c); *st.Streams == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow stream never opened")
		}
	}

	dev := c.connect(t, "sl-2", "")
	long := strings.Repeat("x", 3000)
	dropped, round := false, 0
	for ; round < 200 && !dropped; round++ {
		for i := 0; i < 50; i++ { // bad topics: cheap to send, one security event each
			publish(t, dev, fmt.Sprintf("city/z1/sl-2/%s/%d/%d", long, round, i), 0, []byte("x"))
		}
		st := status(t, c)
		dropped = *st.StreamsDropped >= 1
	}
	if !dropped {
		t.Fatal("a stream that is never read was not dropped")
	}
	t.Logf("dropped after %d bad messages", round*50)
	// The honest viewer still gets what it may see, after the flood.
	const tp = "city/z1/sl-2/state"
	publish(t, dev, tp, 1, c.devs["sl-2"].sign(t, tp, []byte(`{"on":true,"level":12}`)))
	seen := viewer.until(t, "sl-2's twin change", twinOf("sl-2", "level", 12))
	for _, ev := range seen {
		if ev.event == "security" || ev.event == "bye" {
			t.Fatalf("the viewer got %s event %s", ev.event, ev.data)
		}
	}
	if st := status(t, c); *st.StreamsDropped != 1 {
		t.Fatalf("streams dropped %d, want only the slow one", *st.StreamsDropped)
	}
	if code, body := apiGet(t, c, "admin", "/metrics"); code != http.StatusOK || !strings.Contains(body, "signet_dashboard_streams_dropped_total 1\n") {
		t.Fatalf("metrics: %d, want signet_dashboard_streams_dropped_total 1", code)
	}
}

// TestStreamShowsOnlyTheViewersZones: a z1 viewer's stream carries z1's
// twin and connection changes and nothing of z2 (aq-9) or of security
// events, while an admin's stream carries both zones.
func TestStreamShowsOnlyTheViewersZones(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
	})
	_, _, viewer := openStream(t, c, "viewer-z1")
	_, _, admin := openStream(t, c, "admin")
	viewer.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	admin.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })

	aq := c.connect(t, "aq-9", "")
	const aqTopic = "city/z2/aq-9/state"
	publish(t, aq, aqTopic, 1, c.devs["aq-9"].sign(t, aqTopic, []byte(`{"pm25":9,"units":{"pm25":"ug/m3"}}`)))
	admin.until(t, "aq-9's twin change", twinOf("aq-9", "pm25", 9))
	// A z2 attack: a security event the viewer must not see either.
	publish(t, aq, "city/z2/aq-9/bogus/x/y", 0, []byte("x"))
	admin.until(t, "the z2 security event", func(ev sse) bool { return ev.event == "security" && strings.Contains(ev.data, "aq-9") })

	sl := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	publish(t, sl, tp, 1, c.devs["sl-1"].sign(t, tp, []byte(`{"on":true,"level":77}`)))
	seen := viewer.until(t, "sl-1's twin change", twinOf("sl-1", "level", 77))
	admin.until(t, "sl-1's twin change", twinOf("sl-1", "level", 77))
	conn := false
	for _, ev := range seen {
		if strings.Contains(ev.data, "aq-9") || strings.Contains(ev.data, `"z2"`) || ev.event == "security" {
			t.Fatalf("the z1 viewer's stream carried %s %s", ev.event, ev.data)
		}
		conn = conn || (ev.event == "conn" && strings.Contains(ev.data, `"sl-1"`) && strings.Contains(ev.data, `"connected":true`))
	}
	if !conn {
		t.Fatal("the viewer was not told sl-1 connected")
	}
}

// TestDeviceConnectionStateInAPI: GET /api/v1/devices/{id} and
// /api/v1/twins carry the device's connection: connected since and from
// where while it is, the last accepted message's time, and offline after
// it disconnects; an unknown client id claims nothing.
func TestDeviceConnectionStateInAPI(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
	})
	type conn struct {
		Connection broker.ConnState `json:"connection"`
		Device     string           `json:"device"`
		ID         string           `json:"id"`
	}
	get := func(path string) conn {
		code, body := apiGet(t, c, "viewer-z1", path)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var v conn
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	waitFor := func(what string, ok func(broker.ConnState) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(get("/api/v1/devices/sl-3").Connection); {
			if time.Now().After(deadline) {
				t.Fatalf("sl-3 never %s: %+v", what, get("/api/v1/devices/sl-3"))
			}
		}
	}
	if st := get("/api/v1/devices/sl-3").Connection; st.Connected || st.LastSeen != nil {
		t.Fatalf("before connecting: %+v", st)
	}
	dev := c.connect(t, "sl-3", "")
	waitFor("connected", func(s broker.ConnState) bool {
		return s.Connected && s.Since != nil && strings.HasPrefix(s.Remote, "127.0.0.1:")
	})
	const tp = "city/z1/sl-3/state"
	publish(t, dev, tp, 1, c.devs["sl-3"].sign(t, tp, []byte(`{"on":true,"level":3}`)))
	waitFor("seen", func(s broker.ConnState) bool { return s.LastSeen != nil })

	code, body := apiGet(t, c, "viewer-z1", "/api/v1/twins")
	var twins []conn
	if err := json.Unmarshal([]byte(body), &twins); code != http.StatusOK || err != nil {
		t.Fatalf("twins: %d %v", code, err)
	}
	found := false
	for _, tw := range twins {
		found = found || (tw.Device == "sl-3" && tw.Connection.Connected && tw.Connection.LastSeen != nil)
	}
	if !found {
		t.Fatalf("twins lack sl-3's connection: %s", body)
	}
	dev.Disconnect(100)
	waitFor("disconnected", func(s broker.ConnState) bool { return !s.Connected && s.LastGone != nil && s.LastSeen != nil })
}

// TestStreamOutlivesTheWriteTimeoutAndEndsAtShutdown: with the HTTP
// server's write and read timeouts at one second, a stream goes on
// delivering its per-second counts well past them (each write has its own
// deadline), while an ordinary request still answers; at shutdown the
// broker tells the stream and ends it, so Shutdown does not wait for it.
func TestStreamOutlivesTheWriteTimeoutAndEndsAtShutdown(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
		cfg.AccessLimits.HTTPWriteTimeout, cfg.AccessLimits.HTTPReadTimeout = time.Second, time.Second
	})
	_, _, s := openStream(t, c, "admin")
	s.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	// The broker's ticker sends one count a second at most, so four of
	// them mean the stream has lived past the one-second timeouts.
	for range 4 {
		s.until(t, "a per-second count", func(ev sse) bool { return ev.event == "rate" })
	}
	if code, body := apiGet(t, c, "admin", "/api/v1/status"); code != http.StatusOK {
		t.Fatalf("status meanwhile: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v", err)
	}
	s.until(t, "the shutdown notice", func(ev sse) bool { return ev.event == "bye" && strings.Contains(ev.data, "shutdown") })
	<-s.ended
}

// TestStreamEndsWhenUsersReload: a stream's credentials were checked when
// it opened, so a reload that removes its user ends it with a notice, and
// the user's reconnect is refused with 401; an admin, still configured,
// opens a stream again at once.
func TestStreamEndsWhenUsersReload(t *testing.T) {
	var cfg broker.Config
	c := startCity(t, func(c *broker.Config) {
		c.HTTP = "127.0.0.1:0"
		noLoginBackoff(c)
		cfg = *c
	})
	_, _, viewer := openStream(t, c, "viewer-z1")
	_, _, admin := openStream(t, c, "admin")
	viewer.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	admin.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
	var kept []broker.User
	for _, u := range cfg.Users {
		if u.Name != "viewer-z1" {
			kept = append(kept, u)
		}
	}
	cfg.Users = kept
	if err := c.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	// The next write (a count, at the latest) finds the users changed.
	viewer.until(t, "the notice", func(ev sse) bool { return ev.event == "bye" && strings.Contains(ev.data, "credentials_changed") })
	<-viewer.ended
	if code, body, _ := openStream(t, c, "viewer-z1"); code != http.StatusUnauthorized {
		t.Fatalf("a removed user's new stream: %d %q, want 401", code, body)
	}
	admin.until(t, "the admin's notice", func(ev sse) bool { return ev.event == "bye" })
	_, _, again := openStream(t, c, "admin")
	again.until(t, "hello", func(ev sse) bool { return ev.event == "hello" })
}
