package natsembed

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestStartAgainWhenARoutePortIsTaken: a route port that another process
// takes between being found free and being bound leaves its node never
// ready; Start then starts the cluster again on new ports, and it works.
func TestStartAgainWhenARoutePortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	attempts := 0
	pickPorts = func(n int) ([]int, error) {
		attempts++
		ports, err := freePorts(n)
		if attempts == 1 && err == nil {
			ports[n-1] = taken.Addr().(*net.TCPAddr).Port
		}
		return ports, err
	}
	listenTimeout = 2 * time.Second
	t.Cleanup(func() { pickPorts, listenTimeout = freePorts, 10*time.Second })

	c, err := Start(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	if attempts != 2 {
		t.Fatalf("%d attempts, want 2", attempts)
	}
	urls := c.URLs()
	if n := len(strings.Split(urls, ",")); n != 3 {
		t.Fatalf("URLs %q: %d servers, want 3", urls, n)
	}
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "probe", Subjects: []string{"probe"}, Replicas: 3}); err != nil {
		t.Fatalf("an R3 stream on the restarted cluster: %v", err)
	}
}
