package broker_test

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/signet-city/signet/broker"
)

// mqttConnect is a minimal MQTT 3.1.1 CONNECT (client id "c<n>"), enough to
// make mochi add and then delete a client.
func mqttConnect(n byte) []byte {
	return []byte{0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 3, 'c', '0' + n/10, '0' + n%10}
}

// TestCloseWhileClientsChurn: closing a server while clients connect and
// leave must return and disconnect everyone. Without ShutdownSafe, mochi
// v2.7.9 can deadlock here (a nested read lock behind a waiting Add or
// Delete); the window is narrow, so this test exercises the path rather than
// reproducing the hang every time (it was seen once in three -race runs of
// the bench package); a hang fails it by its timeout.
func TestCloseWhileClientsChurn(t *testing.T) {
	for round := range 10 {
		srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatal(err)
		}
		tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
		if err := srv.AddListener(broker.ShutdownSafe(srv, tcp)); err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatal(err)
		}
		var stop atomic.Bool
		var connected atomic.Int64
		churning := make(chan struct{})
		var once sync.Once
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; !stop.Load(); i++ {
					c, err := net.Dial("tcp", tcp.Address())
					if err != nil {
						return // the listener is closed
					}
					// A deadline so that a connection the closing server
					// drops mid-handshake cannot hold this goroutine.
					c.SetDeadline(time.Now().Add(time.Second))
					c.Write(mqttConnect(byte(g*10 + i%10)))
					var ack [4]byte
					if _, err := io.ReadFull(c, ack[:]); err == nil && ack[0] == 0x20 && connected.Add(1) == 20 {
						once.Do(func() { close(churning) })
					}
					c.Close()
				}
			}()
		}
		<-churning // clients are connecting and leaving
		if err := srv.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		stop.Store(true)
		wg.Wait()
	}
}
