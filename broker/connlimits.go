package broker

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ConnGate bounds connections that have not authenticated yet.
//
// mochi reads a new connection's CONNECT with no deadline of its own (its
// keep-alive deadline starts only once CONNECT is read), and lets any
// number of connections wait there: hundreds of sockets that never speak
// stay open for ever, each with its goroutines and buffers. The gate sits
// between a listener and mochi: it closes a connection whose CONNECT has not
// been read within the connect timeout (a TLS handshake counts towards it),
// and it closes at once any connection beyond the maximum that are between
// accept and the end of authentication. A connection leaves the gate when
// it has authenticated (just before mochi writes the CONNACK, so that a client
// that has its CONNACK is out of the gate), or when it ends.
//
// The gate is also a mochi hook: OnConnect (CONNECT read) stops the
// timer, OnSessionEstablish (authenticated) frees the place.
type ConnGate struct {
	mqtt.HookBase
	log *slog.Logger

	mu      sync.Mutex
	timeout time.Duration             // read and changed (SetLimits) under mu
	max     int                       // read and changed (SetLimits) under mu
	pending map[net.Conn]*pendingConn // keyed by the conn mochi keeps in Client.Net.Conn

	refused atomic.Int64 // closed for being over max
	expired atomic.Int64 // closed for being late with CONNECT
}

// pendingConn is one connection in the gate.
type pendingConn struct {
	timer *time.Timer // closes the connection when CONNECT is late
}

// NewConnGate returns a gate: timeout for the CONNECT, max connections
// waiting at once.
func NewConnGate(timeout time.Duration, max int, log *slog.Logger) *ConnGate {
	if log == nil {
		log = slog.Default()
	}
	return &ConnGate{timeout: timeout, max: max, log: log, pending: map[net.Conn]*pendingConn{}}
}

// ID names the hook.
func (g *ConnGate) ID() string { return "signet-conngate" }

// Provides lists the events the hook handles.
func (g *ConnGate) Provides(b byte) bool {
	return oneOf(b, mqtt.OnConnect, mqtt.OnSessionEstablish)
}

// Connecting is how many connections are in the gate now.
func (g *ConnGate) Connecting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// Refused is how many connections were closed for being over the maximum.
func (g *ConnGate) Refused() int64 { return g.refused.Load() }

// Expired is how many connections were closed for a late CONNECT.
func (g *ConnGate) Expired() int64 { return g.expired.Load() }

// Listener wraps l so that every connection it accepts passes the gate.
func (g *ConnGate) Listener(l listeners.Listener) listeners.Listener {
	return &gatedListener{Listener: l, gate: g}
}

type gatedListener struct {
	listeners.Listener
	gate *ConnGate
}

// Serve serves the wrapped listener, with each connection through the gate.
func (l *gatedListener) Serve(establish listeners.EstablishFn) {
	l.Listener.Serve(func(id string, c net.Conn) error { return l.gate.establish(id, c, establish) })
}

// establish admits c, runs mochi's session on it (which returns when the
// connection ends), and takes c out of the gate if it is still in it.
func (g *ConnGate) establish(id string, c net.Conn, next listeners.EstablishFn) error {
	if !g.admit(c) {
		// Not an error for mochi to log: under a flood it would log one
		// line per refused socket.
		g.log.Debug("connection refused: too many connections waiting for CONNECT", "remote", c.RemoteAddr())
		return nil
	}
	defer g.leave(c)
	return next(id, c)
}

// admit puts c in the gate, or closes it when the gate is full.
func (g *ConnGate) admit(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) >= g.max {
		g.refused.Add(1)
		_ = c.Close()
		return false
	}
	p := &pendingConn{}
	timeout := g.timeout
	p.timer = time.AfterFunc(timeout, func() {
		g.mu.Lock()
		late := g.pending[c] == p && p.timer != nil
		g.mu.Unlock()
		if late {
			g.expired.Add(1)
			g.log.Debug("connection closed: no CONNECT in time", "remote", c.RemoteAddr(), "connect_timeout", timeout)
			_ = c.Close() // mochi's read of CONNECT fails, and the session ends
		}
	})
	g.pending[c] = p
	return true
}

// leave takes c out of the gate (authenticated, or gone).
func (g *ConnGate) leave(c net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.pending[c]; p != nil && p.timer != nil {
		p.timer.Stop()
	}
	delete(g.pending, c)
}

// OnConnect stops the connection's CONNECT timer: its CONNECT has been read.
// The connection keeps its place until it has authenticated.
func (g *ConnGate) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.pending[cl.Net.Conn]; p != nil && p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	return nil
}

// OnSessionEstablish frees the connection's place: it has authenticated,
// and its CONNACK is about to be written.
func (g *ConnGate) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Conn != nil {
		g.leave(cl.Net.Conn)
	}
}
