// Package natstest is for tests only: it runs real NATS servers with
// JetStream in the test process, on loopback ports over temporary folders,
// alone or as a cluster, and stops them when the test ends.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startTimeout bounds how long a server or a cluster may take to be ready.
const startTimeout = 30 * time.Second

// Cluster is a JetStream cluster of real servers in this process.
type Cluster struct {
	Servers []*server.Server
}

// URLs is every server's client URL, comma-separated, as --store takes it.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

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
// and returns once their meta group has a leader that every server follows.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, n)
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{}
	for i := range n {
		c.Servers = append(c.Servers, start(t, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "signet-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  routes,
		}))
	}
	waitFor(t, "JetStream meta leader", func() bool {
		leaders := 0
		for _, s := range c.Servers {
			if !s.JetStreamIsCurrent() {
				return false
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		return leaders == 1
	})
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

// freePorts asks the kernel for n free loopback ports for the cluster
// routes, which every server must know before any starts.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
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
