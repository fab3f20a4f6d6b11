package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ShutdownSafe wraps a mochi listener so that closing it cannot deadlock.
//
// mochi v2.7.9's Server.Close disconnects each listener's clients through
// Clients.GetByListener, which holds the clients' read lock and takes it
// again (through Len) inside: if a client connects or leaves in between, its
// Add or Delete waits for the write lock, the nested read lock waits behind
// that writer, and shutdown hangs for ever (seen as a 10-minute test timeout,
// with the goroutines parked in clients.go). The wrapper disconnects the
// listener's clients from a copy taken with one read lock (Clients.GetAll)
// instead. Every listener Signet adds to a mochi server goes through it.
func ShutdownSafe(srv *mqtt.Server, l listeners.Listener) listeners.Listener {
	return &safeListener{Listener: l, srv: srv}
}

type safeListener struct {
	listeners.Listener
	srv *mqtt.Server
}

// Close stops the listener and disconnects its clients without mochi's
// nested locking.
func (l *safeListener) Close(listeners.CloseFn) {
	l.Listener.Close(func(id string) {
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
}
