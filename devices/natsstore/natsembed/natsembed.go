// Package natsembed runs a JetStream cluster inside the process, on
// loopback ports over a folder: the local demo (signet serve --dev
// --cluster N) and the store benchmark (signet bench store --store
// nats-embedded). It is no way to run a district: real NATS servers are
// (docs/deployment.md).
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long the cluster may take to elect its meta
// leader: on a loaded machine a few seconds.
const readyTimeout = 30 * time.Second

// listenTimeout bounds how long a node may take to open its listeners.
// One that never does lost its route port to another process (below). A
// variable for the test that takes a port.
var listenTimeout = 10 * time.Second

// startAttempts is how many times Start picks ports for the cluster. The
// route ports are found free and then closed before the nodes bind them,
// so another process can take one in between; a node on a taken port never
// becomes ready, and the cluster is started again on new ports.
const startAttempts = 3

// errPortTaken marks a node that did not open its listeners in time.
var errPortTaken = errors.New("its listeners did not open (a port taken in the meantime?)")

// Cluster is n JetStream servers routed to one another.
type Cluster struct {
	Servers []*server.Server
}

// Start runs n servers (1 to 5: JetStream's replication limit) with their
// data under dir and returns once their meta group has a leader that sees
// every node online.
func Start(dir string, n int) (*Cluster, error) {
	if n < 1 || n > 5 {
		return nil, fmt.Errorf("embedded NATS cluster of %d nodes: want 1 to 5", n)
	}
	var err error
	for range startAttempts {
		var c *Cluster
		if c, err = start(dir, n); !errors.Is(err, errPortTaken) {
			return c, err
		}
	}
	return nil, err
}

// start is one attempt of Start, on ports found free now.
func start(dir string, n int) (*Cluster, error) {
	ports, err := pickPorts(n)
	if err != nil {
		return nil, err
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &Cluster{}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)), NoLog: true, NoSigs: true,
			// The registry is one value: room for a benchmark's thousands of devices.
			MaxPayload: 8 << 20,
		}
		if n > 1 {
			opts.Cluster = server.ClusterOpts{Name: "signet-local", Host: "127.0.0.1", Port: ports[i]}
			opts.Routes = routes
		}
		s, err := server.NewServer(opts)
		if err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("nats node n%d: %w", i+1, err)
		}
		go s.Start()
		c.Servers = append(c.Servers, s)
		if !s.ReadyForConnections(listenTimeout) {
			c.Shutdown()
			return nil, fmt.Errorf("nats node n%d: not ready within %s: %w", i+1, listenTimeout, errPortTaken)
		}
	}
	deadline := time.Now().Add(readyTimeout)
	for !c.ready() {
		if time.Now().After(deadline) {
			c.Shutdown()
			return nil, errors.New("embedded NATS cluster: no JetStream meta leader within " + readyTimeout.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the servers' own state: nothing to wait on
	}
	return c, nil
}

// ready reports whether the meta group has one leader and that leader
// counts every node online: until it has heard from all of them, an R3
// bucket is refused ("no suitable peers for placement, peer offline").
func (c *Cluster) ready() bool {
	leaders := 0
	for _, s := range c.Servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if s.JetStreamIsLeader() {
			leaders++
			if len(c.Servers) > 1 && len(s.JetStreamClusterPeers()) != len(c.Servers) {
				return false
			}
		}
	}
	return leaders == 1 || (len(c.Servers) == 1 && c.Servers[0].JetStreamEnabled())
}

// URLs is every node's client URL, comma-separated, as --store takes it.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}

// Shutdown stops every node and waits for them.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		s.Shutdown()
	}
	for _, s := range c.Servers {
		s.WaitForShutdown()
	}
}

// pickPorts is freePorts, a variable for the test that takes a port.
var pickPorts = freePorts

// freePorts asks the kernel for n free loopback ports for the routes,
// which every node must know before any starts.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
