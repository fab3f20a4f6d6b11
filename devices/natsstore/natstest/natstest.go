// Package natstest is for tests only: it runs real NATS servers with
// JetStream in the test process, on loopback ports over temporary folders,
// alone or as a cluster, and stops them when the test ends.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/signet-city/signet/devices/natsstore/natsembed"
)

// startTimeout bounds how long a server may take to be ready.
const startTimeout = 30 * time.Second

// Cluster is a JetStream cluster of real servers in this process: the
// embedded cluster of `signet serve --dev --cluster N` (natsembed), so that
// the tests wait for the readiness the product waits for.
type Cluster = natsembed.Cluster

// Server runs one JetStream server (replicas 1 only) until the test ends.
func Server(t testing.TB) *server.Server {
	t.Helper()
	return NewSolo(t).Server
}

// Solo is one JetStream server that a test may stop and start again, on
// the same port and over the same data.
type Solo struct {
	Server *server.Server
	opts   *server.Options
}

// NewSolo runs one JetStream server until the test ends.
func NewSolo(t testing.TB) *Solo {
	t.Helper()
	s := &Solo{opts: &server.Options{ServerName: "solo", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}}
	s.Start(t)
	s.opts.Port = s.Server.Addr().(*net.TCPAddr).Port // a restart keeps the clients' URL
	return s
}

// Stop shuts the server down, as a crash of the NATS node would be seen.
func (s *Solo) Stop() {
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Start runs the server (again) with its port and data.
func (s *Solo) Start(t testing.TB) {
	t.Helper()
	s.Server = start(t, s.opts.Clone())
	waitFor(t, "JetStream ready", func() bool { return s.Server.JetStreamEnabled() })
}

// StartCluster runs n JetStream servers routed to one another on loopback
// and returns once their meta group has a leader that sees every node
// online; they stop when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := natsembed.Start(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(startTimeout) {
		s.Shutdown()
		t.Fatalf("nats server %s not ready within %s", opts.ServerName, startTimeout)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// waitFor polls cond until it holds, failing the test after startTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, startTimeout)
		}
		<-tick.C
	}
}
