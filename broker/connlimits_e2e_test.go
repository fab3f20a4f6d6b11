package broker_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/signing"
)

// gauge reads one of the broker's metrics (0 when it has no value).
func gauge(t *testing.T, c *city, name string) float64 {
	t.Helper()
	fams, err := c.srv.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		m := f.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// waitFor waits until cond holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// honestRoundTrip has device sl-1 connect (MQTT 3.1.1, connect token) and
// publish a signed message that an admin subscriber must receive.
func honestRoundTrip(t *testing.T, c *city, id string) {
	t.Helper()
	admin := c.connect(t, "ops-"+id, "admin")
	got := subscribe(t, admin, "city/z1/"+id+"/tele/#")
	dev := c.connect(t, id, "")
	tp := "city/z1/" + id + "/tele/power"
	msg := c.devs[id].sign(t, tp, []byte(`{"w":5}`))
	publish(t, dev, tp, 1, msg)
	if m := got.next(t); string(m.Payload()) != string(msg) {
		t.Fatalf("subscriber got %s %x, want the device's message", m.Topic(), m.Payload())
	}
	dev.Disconnect(10)
	admin.Disconnect(10)
}

// TestHugeConnectIsRefusedBeforeAllocation: a CONNECT whose fixed header
// declares 256 MiB used to make mochi allocate 256 MiB before anything was
// authenticated. The broker now reads at most connections.max_packet_bytes
// (derived from max_message_bytes, and advertised in an MQTT 5 CONNACK), so
// such a connection is closed without the heap growing by it, and an
// honest device keeps working.
func TestHugeConnectIsRefusedBeforeAllocation(t *testing.T) {
	c := startCity(t, nil)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const attackers = 4
	raws := make([]*rawClient, attackers)
	for i := range raws {
		raws[i] = dialRaw(t, c.srv.MQTTAddr(), 5)
		// CONNECT, remaining length 268,435,455: the largest MQTT allows.
		if _, err := raws[i].conn.Write([]byte{0x10, 0xff, 0xff, 0xff, 0x7f}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range raws {
		r.waitClosed(t)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// A memory bound, generous: each attack alone would have been 256 MiB.
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Fatalf("heap grew by %d MiB for %d refused CONNECTs", grown>>20, attackers)
	}

	// MQTT 5 clients are told the limit; a PUBLISH over it ends the
	// connection instead of being read.
	limit := uint32(signing.DefaultMaxSize + broker.PacketHeaderRoom)
	admin := dialRaw(t, c.srv.MQTTAddr(), 5)
	admin.write(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
		ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: "raw-admin",
		UsernameFlag: true, Username: []byte("admin"), PasswordFlag: true, Password: []byte(testPassword)}})
	if ack := admin.read(t); ack.ReasonCode != 0 || ack.Properties.MaximumPacketSize != limit {
		t.Fatalf("CONNACK reason %#x Maximum Packet Size %d, want success and %d", ack.ReasonCode, ack.Properties.MaximumPacketSize, limit)
	}
	admin.write(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "ops/big", Payload: make([]byte, limit)})
	admin.waitClosed(t)

	honestRoundTrip(t, c, "sl-1")
}

// TestSilentConnectionsAreClosed: connections that never send CONNECT, or
// send only part of it, used to stay open for ever. They are now closed once
// connections.connect_timeout has passed, while an honest device connects
// and publishes meanwhile.
func TestSilentConnectionsAreClosed(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.Connections.ConnectTimeout = 2 * time.Second })
	var idle []*rawClient
	for range 5 {
		idle = append(idle, dialRaw(t, c.srv.MQTTAddr(), 4))
	}
	partial := dialRaw(t, c.srv.MQTTAddr(), 4)
	if _, err := partial.conn.Write([]byte{0x10, 0x20, 0x00}); err != nil { // a CONNECT that never finishes
		t.Fatal(err)
	}
	honestRoundTrip(t, c, "sl-1")
	for _, r := range append(idle, partial) {
		r.waitClosed(t)
	}
	if n := gauge(t, c, "signet_connections_connect_timeouts_total"); n < 6 {
		t.Fatalf("%v connections counted as late, want at least 6", n)
	}
	honestRoundTrip(t, c, "sl-2")
}

// TestTooManyConnectingAreClosed: with connections.max_connecting
// connections waiting for CONNECT, a further one is closed at once (long
// before the connect timeout), while a device already connected keeps
// publishing; once the waiting ones go, devices connect again.
func TestTooManyConnectingAreClosed(t *testing.T) {
	const max = 4
	c := startCity(t, func(cfg *broker.Config) {
		cfg.Connections.MaxConnecting, cfg.Connections.ConnectTimeout = max, 10*time.Minute
	})
	admin := c.connect(t, "ops-console", "admin")
	got := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-1", "")

	var waiting []*rawClient
	for range max {
		waiting = append(waiting, dialRaw(t, c.srv.MQTTAddr(), 4))
	}
	waitFor(t, "the silent connections to fill the gate", func() bool { return gauge(t, c, "signet_connections_connecting") == max })
	for range 3 {
		dialRaw(t, c.srv.MQTTAddr(), 4).waitClosed(t)
	}
	if n := gauge(t, c, "signet_connections_refused_total"); n != 3 {
		t.Fatalf("%v connections refused, want 3", n)
	}
	const tp = "city/z1/sl-1/tele/power"
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"w":9}`))
	publish(t, dev, tp, 1, msg)
	if m := got.next(t); string(m.Payload()) != string(msg) {
		t.Fatalf("subscriber got %s %x, want the connected device's message", m.Topic(), m.Payload())
	}

	for _, r := range waiting {
		r.conn.Close()
	}
	waitFor(t, "the gate to empty", func() bool { return gauge(t, c, "signet_connections_connecting") == 0 })
	honestRoundTrip(t, c, "sl-2")
}
