package broker_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/brokertest"
)

// mqttConnect is a minimal MQTT 3.1.1 CONNECT with client id "c<n>".
func mqttConnect(n int) []byte {
	return []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 30, 0, 4, 'c', '0' + byte(n/100), '0' + byte(n/10%10), '0' + byte(n%10)}
}

// TestCloseWhileClientsLeave: closing a server while its clients are
// leaving must return and end every session. Without ShutdownSafe, mochi
// v2.7.9 can deadlock here: Server.Close holds the clients' read lock and
// takes it again inside (Clients.GetByListener calls Len), and a leaving
// client's Delete waiting for the write lock between the two blocks both
// for ever. The window is narrow, so the test exercises the path rather than
// reproducing the hang each time (it was seen once in three -race runs of
// the bench package); a hang fails it by its timeout. (A client that
// connects during Close is turned away by Signet's copy of mochi:
// third_party/mochi/PATCHES.md, patch 4.)
func TestCloseWhileClientsLeave(t *testing.T) {
	for round := range 10 {
		srv, addr := brokertest.Plain(t)
		const n = 60
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			// A deadline only so that a broken test cannot hang here.
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.Write(mqttConnect(i)); err != nil {
				t.Fatal(err)
			}
			var ack [4]byte
			if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 0x20 || ack[3] != 0 {
				t.Fatalf("round %d client %d: CONNACK %x, %v", round, i, ack, err)
			}
			conns[i] = c
		}
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }() // Delete races with Close
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		wg.Wait()
		for id, cl := range srv.Clients.GetAll() {
			if !cl.Net.Inline && !cl.Closed() { // the inline client has no connection
				t.Fatalf("round %d: client %s still open after Close", round, id)
			}
		}
	}
}
