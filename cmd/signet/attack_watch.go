package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
)

// login is a user's MQTT name and password (USER:PASSWORD on the command line).
type login struct{ user, password string }

func parseLogin(flag, s string) (*login, error) {
	if s == "" {
		return nil, nil
	}
	u, p, ok := strings.Cut(s, ":")
	if !ok || u == "" || p == "" {
		return nil, usagef("%s %q: want USER:PASSWORD", flag, s)
	}
	return &login{u, p}, nil
}

// watcher is a password-authenticated MQTT 5 subscriber that counts what
// it receives: the honest reader (readings on the honest devices' topics)
// or the auditor (messages on $security/events).
type watcher struct {
	client  *paho5.Client
	nc      net.Conn
	mu      sync.Mutex
	cond    *sync.Cond
	got     int               // messages received
	stands  uint64            // events they stand for: an aggregate counts as its Count
	reasons map[string]uint64 // events by reason (auditor), as stands
}

// watch logs in as l and subscribes to filters at QoS 1 (MQTT 5 §3.8).
func watch(ctx context.Context, brokerURL string, l *login, clientID string, filters []string) (*watcher, error) {
	u, err := url.Parse(brokerURL)
	if err != nil || u.Scheme != "tcp" {
		return nil, fmt.Errorf("broker %q: want tcp://host:port", brokerURL)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	w := &watcher{nc: nc, reasons: map[string]uint64{}}
	w.cond = sync.NewCond(&w.mu)
	onPublish := func(pr paho5.PublishReceived) (bool, error) {
		var ev struct {
			Reason string `json:"reason"`
			Count  uint64 `json:"count"`
		}
		n := uint64(1)
		ok := json.Unmarshal(pr.Packet.Payload, &ev) == nil
		if ok && ev.Count > 0 {
			n = ev.Count
		}
		w.mu.Lock()
		w.got++
		w.stands += n
		if ok && ev.Reason != "" {
			w.reasons[ev.Reason] += n
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		return true, nil
	}
	w.client = paho5.NewClient(paho5.ClientConfig{Conn: nc, ClientID: clientID, PacketTimeout: 30 * time.Second,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){onPublish}})
	if _, err := w.client.Connect(ctx, &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: l.user, PasswordFlag: true, Password: []byte(l.password)}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("logging in as %s: %w", l.user, err)
	}
	subs := make([]paho5.SubscribeOptions, 0, len(filters))
	for _, f := range filters {
		subs = append(subs, paho5.SubscribeOptions{Topic: f, QoS: 1})
	}
	ack, err := w.client.Subscribe(ctx, &paho5.Subscribe{Subscriptions: subs})
	if err != nil {
		w.close()
		return nil, fmt.Errorf("%s subscribing to %s: %w", l.user, strings.Join(filters, ", "), err)
	}
	for i, r := range ack.Reasons {
		if r >= 0x80 {
			w.close()
			return nil, fmt.Errorf("%s may not subscribe to %s (SUBACK 0x%02x)", l.user, filters[i], r)
		}
	}
	return w, nil
}

// reset starts counting again from zero.
func (w *watcher) reset() {
	w.mu.Lock()
	w.got, w.stands, w.reasons = 0, 0, map[string]uint64{}
	w.mu.Unlock()
}

// waitStands waits until the messages stand for at least n events or
// until the deadline, and returns the counts.
func (w *watcher) waitStands(n uint64, patience time.Duration) (got int, stands uint64) {
	return w.waitUntil(func() bool { return w.stands >= n }, patience)
}

// waitFor waits until the watcher has received at least n messages or
// until the deadline, and returns what it has.
func (w *watcher) waitFor(n int, patience time.Duration) (got int, stands uint64) {
	return w.waitUntil(func() bool { return w.got >= n }, patience)
}

// waitUntil waits, holding w.mu while it checks, until done or patience
// has passed, and returns the counts.
func (w *watcher) waitUntil(done func() bool, patience time.Duration) (got int, stands uint64) {
	timer := time.AfterFunc(patience, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(patience)
	w.mu.Lock()
	defer w.mu.Unlock()
	for !done() && time.Now().Before(deadline) {
		w.cond.Wait()
	}
	return w.got, w.stands
}

// byReason is a copy of the counts by reason.
func (w *watcher) byReason() map[string]uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]uint64, len(w.reasons))
	for r, n := range w.reasons {
		out[r] = n
	}
	return out
}

func (w *watcher) close() {
	if w == nil {
		return
	}
	w.client.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	w.nc.Close()
}

// rssMeter measures the broker's peak resident set during a scenario: from
// /proc/PID/status when the broker is our child (its high-water mark VmHWM,
// reset at the start through /proc/PID/clear_refs, proc(5)), else sampled
// from /metrics (process_resident_memory_bytes, the Prometheus process
// collector).
type rssMeter struct {
	pid     int    // 0: not our child
	metrics string // http://host:port/metrics, or ""
	token   string // bearer token for /metrics, or ""
	stop    chan struct{}
	done    chan struct{}
	peak    uint64
}

func (m *rssMeter) start() {
	m.stop, m.done, m.peak = make(chan struct{}), make(chan struct{}), 0
	if m.pid > 0 {
		// "5" resets the peak RSS to the current RSS (proc(5), clear_refs).
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", m.pid), []byte("5"), 0)
	}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				m.sample()
				return
			case <-tick.C:
			}
		}
	}()
}

// end stops sampling and returns the peak in bytes (0: not measured).
func (m *rssMeter) end() uint64 {
	close(m.stop)
	<-m.done
	return m.peak
}

func (m *rssMeter) sample() {
	var v uint64
	switch {
	case m.pid > 0:
		v = procStatusBytes(m.pid, "VmHWM:")
	case m.metrics != "":
		v = metricsRSS(m.metrics, m.token)
	}
	m.peak = max(m.peak, v)
}

// procStatusBytes reads one "kB" field of /proc/PID/status.
func procStatusBytes(pid int, field string) uint64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

var metricsClient = &http.Client{Timeout: 5 * time.Second}

// metricsRSS reads process_resident_memory_bytes from a /metrics page.
func metricsRSS(endpoint, token string) uint64 {
	req, err := http.NewRequest(http.MethodGet, endpoint, nil)
	if err != nil {
		return 0
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return uint64(f)
			}
		}
	}
	return 0
}
