package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// streamMsg is one server-sent event (WHATWG HTML §9.2): a type and one
// line of JSON.
type streamMsg struct {
	event string
	data  []byte
}

// encode writes the event in the text/event-stream format. JSON from
// json.Marshal holds no newline, so one data line carries it whole.
func (m streamMsg) encode() []byte {
	var b bytes.Buffer
	b.WriteString("event: ")
	b.WriteString(m.event)
	b.WriteString("\ndata: ")
	b.Write(m.data)
	b.WriteString("\n\n")
	return b.Bytes()
}

// stream is one open GET /api/v1/stream.
type stream struct {
	id   Identity
	ch   chan streamMsg
	gone chan struct{} // closed when the hub dropped the stream or closed
	why  string        // set before gone is closed
}

// streamHub fans live events out to the open streams. A send never blocks:
// a stream whose queue is full is dropped (its reader reconnects and
// reloads), so a slow reader costs its own queue and nothing more.
type streamHub struct {
	cfg     DashboardConfig
	mu      sync.Mutex
	subs    map[*stream]struct{}
	perUser map[string]int
	closed  bool
	dropped atomic.Uint64
}

func newStreamHub(cfg DashboardConfig) *streamHub {
	return &streamHub{cfg: cfg, subs: map[*stream]struct{}{}, perUser: map[string]int{}}
}

// errStreamLimit is a refused stream: too many open in all or for the user.
type errStreamLimit struct{ msg string }

func (e errStreamLimit) Error() string { return e.msg }

// errCredentialsChanged ends a stream whose user table was replaced.
var errCredentialsChanged = errors.New("the users were reloaded")

// errHubClosed: the broker is shutting down.
var errHubClosed = errors.New("the broker is shutting down")

// join opens a stream for id, within the bounds.
func (h *streamHub) join(id Identity) (*stream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, errHubClosed
	case len(h.subs) >= h.cfg.MaxStreams:
		return nil, errStreamLimit{fmt.Sprintf("too many live streams open (dashboard.max_streams: %d)", h.cfg.MaxStreams)}
	case h.perUser[id.key()] >= h.cfg.MaxStreamsPerUser:
		return nil, errStreamLimit{fmt.Sprintf("too many live streams open for %s %q (dashboard.max_streams_per_user: %d); close another dashboard tab", id.Role, id.Name, h.cfg.MaxStreamsPerUser)}
	}
	s := &stream{id: id, ch: make(chan streamMsg, h.cfg.StreamQueue), gone: make(chan struct{})}
	h.subs[s] = struct{}{}
	h.perUser[id.key()]++
	return s, nil
}

// leave forgets a stream (its handler has returned).
func (h *streamHub) leave(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(s, "")
}

// removeLocked takes s out of the hub and closes gone once; h.mu is held.
func (h *streamHub) removeLocked(s *stream, why string) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if h.perUser[s.id.key()]--; h.perUser[s.id.key()] <= 0 {
		delete(h.perUser, s.id.key())
	}
	s.why = why
	close(s.gone)
}

// send offers each stream the message build makes for its identity (false:
// nothing for it). A full queue drops the stream.
func (h *streamHub) send(build func(id Identity) (streamMsg, bool)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		m, ok := build(s.id)
		if !ok {
			continue
		}
		select {
		case s.ch <- m:
		default:
			h.dropped.Add(1)
			h.removeLocked(s, "slow_reader")
		}
	}
}

// open counts the open streams.
func (h *streamHub) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// close ends every stream and refuses new ones (at shutdown: http.Server's
// Shutdown waits for handlers, and a stream would never end by itself).
func (h *streamHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.removeLocked(s, "shutdown")
	}
}

// serveStream is GET /api/v1/stream: server-sent events of what the
// caller's role and zones may see (twin changes, connection changes,
// per-second counts; security events for auditors and admins), and a comment
// line every heartbeat. The first event, "hello", carries the
// kept per-second counts for the chart.
//
// The caller's credentials were checked when the stream opened; valid
// says whether they still stand (false once the users were reloaded, which
// may have removed the user, its token or its zones). The stream then ends
// with a notice, and the reader's reconnect is checked afresh.
func (d *liveDash) serveStream(w http.ResponseWriter, r *http.Request, id Identity, valid func() bool) {
	st, err := d.hub.join(id)
	var limit errStreamLimit
	switch {
	case errors.As(err, &limit):
		w.Header().Set("Retry-After", "10")
		http.Error(w, err.Error(), http.StatusTooManyRequests) // RFC 6585 §4
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer d.hub.leave(st)
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for one request and its
	// answer; a stream lives longer. Each write gets its own deadline
	// instead, so a reader that stops reading is dropped after WriteTimeout.
	_ = rc.SetReadDeadline(time.Time{})
	write := func(b []byte) error {
		if !valid() {
			return errCredentialsChanged
		}
		if err := rc.SetWriteDeadline(time.Now().Add(d.cfg.WriteTimeout)); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	hello, _ := json.Marshal(map[string]any{
		"role": id.Role, "rate_seconds": d.cfg.RateSeconds, "rates": d.rates.history(d.zoneVisible(id)),
		"heartbeat_ms": d.cfg.Heartbeat.Milliseconds(),
	})
	// retry: how long a browser waits before reconnecting (WHATWG HTML §9.2.6).
	if write(append([]byte("retry: 3000\n\n"), streamMsg{"hello", hello}.encode()...)) != nil {
		return
	}
	beat := time.NewTicker(d.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-st.gone:
			if st.why != "" {
				// A last word for a reader that can still take it, so it
				// knows to reload rather than trust what it has.
				b, _ := json.Marshal(map[string]string{"reason": st.why})
				_ = write(streamMsg{"bye", b}.encode())
			}
			return
		case m := <-st.ch:
			err = write(m.encode())
		case <-beat.C:
			err = write([]byte(": heartbeat " + strconv.FormatInt(time.Now().Unix(), 10) + "\n\n"))
		}
		if errors.Is(err, errCredentialsChanged) {
			valid = func() bool { return true } // the notice itself may go out
			_ = write(streamMsg{"bye", []byte(`{"reason":"credentials_changed"}`)}.encode())
			return
		}
		if err != nil {
			return
		}
	}
}
