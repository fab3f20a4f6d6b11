package mqtt

import (
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"
	"github.com/stretchr/testify/require"
)

// Tests of Signet's patches to mochi (PATCHES.md): each holds the behaviour
// the patch keeps and the allocation it removes.

// qosCounter counts the QoS hooks, which the first patch must still call,
// and the in-flight entries the client held whenever one was called.
type qosCounter struct {
	HookBase
	published, completed, heldInFlight atomic.Int32
}

func (h *qosCounter) ID() string { return "qos-counter" }
func (h *qosCounter) Provides(b byte) bool {
	return b == OnQosPublish || b == OnQosComplete
}
func (h *qosCounter) OnQosPublish(cl *Client, pk packets.Packet, sent int64, resends int) {
	h.published.Add(1)
	h.heldInFlight.Add(int32(cl.State.Inflight.Len()))
}
func (h *qosCounter) OnQosComplete(cl *Client, pk packets.Packet) {
	h.completed.Add(1)
	h.heldInFlight.Add(int32(cl.State.Inflight.Len()))
}

// Patch 1: a QoS 1 PUBACK that is written never enters the in-flight map,
// and the QoS hooks are called as before.
func TestSignetQos1PubackNotHeldInFlight(t *testing.T) {
	s := newServer()
	hook := new(qosCounter)
	require.NoError(t, s.AddHook(hook, nil))
	cl, r, _ := newTestClient()
	s.Clients.Add(cl)
	acks := make(chan []byte, 1)
	go func() {
		buf := make([]byte, 4)
		_, _ = io.ReadFull(r, buf) // a short read fails the comparison below
		acks <- buf
	}()

	pk := *packets.TPacketData[packets.Publish].Get(packets.TPublishQos1).Packet
	require.NoError(t, s.processPublish(cl, pk))
	ack := <-acks
	require.Equal(t, []byte{packets.Puback << 4, 2, byte(pk.PacketID >> 8), byte(pk.PacketID)}, ack)
	require.Equal(t, int32(1), hook.published.Load())
	require.Equal(t, int32(1), hook.completed.Load())
	require.Equal(t, int32(0), hook.heldInFlight.Load())
	require.Equal(t, 0, cl.State.Inflight.Len())
	require.Equal(t, int64(0), atomic.LoadInt64(&s.Info.Inflight))
	require.Equal(t, int32(10), atomic.LoadInt32(&cl.State.Inflight.receiveQuota))
}

// Patch 1: a QoS 1 PUBACK whose write fails stays in flight, as mochi had
// it, for a resumed session to resend.
func TestSignetQos1PubackKeptWhenItsWriteFails(t *testing.T) {
	s := newServer()
	cl, _, w := newTestClient()
	s.Clients.Add(cl)
	require.NoError(t, w.Close())

	pk := *packets.TPacketData[packets.Publish].Get(packets.TPublishQos1).Packet
	require.ErrorIs(t, s.processPublish(cl, pk), io.ErrClosedPipe)
	held, ok := cl.State.Inflight.Get(pk.PacketID)
	require.True(t, ok)
	require.Equal(t, packets.Puback, held.FixedHeader.Type)
	require.Equal(t, int64(1), atomic.LoadInt64(&s.Info.Inflight))
}

func BenchmarkSignetProcessPublishQos1(b *testing.B) {
	s := newServer()
	cl, r, _ := newTestClient()
	go func() { _, _ = io.Copy(io.Discard, r) }()
	s.Clients.Add(cl)
	pk := *packets.TPacketData[packets.Publish].Get(packets.TPublishQos1).Packet
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.processPublish(cl, pk); err != nil {
			b.Fatal(err)
		}
	}
}

// Patch 3: finding the subscribers of a topic copies no subscription map and
// makes a map only for a kind of subscriber it found.
func TestSignetSubscribersMadeOnlyForMatches(t *testing.T) {
	index := NewTopicsIndex()
	for i := 0; i < 50; i++ {
		index.Subscribe(fmt.Sprintf("cl%d", i), packets.Subscription{Filter: "city/z1/#"})
	}
	index.Subscribe("ops", packets.Subscription{Filter: "$share/ops/city/+/+/tele/power"})

	none := index.Subscribers("city/z2/d1/state")
	require.Empty(t, none.Subscriptions)
	require.Empty(t, none.Shared)
	require.Empty(t, none.InlineSubscriptions)
	require.LessOrEqual(t, testing.AllocsPerRun(10, func() { index.Subscribers("elsewhere/d1/tele/power") }), 1.0,
		"at most the Subscribers itself for a topic no one reads")

	some := index.Subscribers("city/z1/d1/tele/power")
	require.Len(t, some.Subscriptions, 50)
	require.Len(t, some.Shared, 1)
	require.Contains(t, some.Shared["$share/ops/city/+/+/tele/power"], "ops")
	require.Nil(t, some.InlineSubscriptions)
	some.SelectShared()
	some.MergeSharedSelected()
	require.Len(t, some.Subscriptions, 51)

	shared := index.Subscribers("city/z2/d1/tele/power")
	require.Empty(t, shared.Subscriptions)
	shared.SelectShared()
	shared.MergeSharedSelected()
	require.Contains(t, shared.Subscriptions, "ops", "a shared member merges into a nil map")
}

// Patch 4: a connection that arrives once the server has closed is turned
// away at once and its connection closed, instead of being counted among
// the clients Close waits for.
func TestSignetEstablishAfterCloseIsTurnedAway(t *testing.T) {
	s := newServer()
	require.NoError(t, s.Serve())
	require.NoError(t, s.Close())
	r, w := net.Pipe()
	// A deadline only so that an unpatched server, which would wait for
	// a CONNECT, fails the test instead of hanging it.
	require.NoError(t, r.SetDeadline(time.Now().Add(5*time.Second)))
	require.ErrorIs(t, s.EstablishConnection("tcp", r), packets.ErrServerShuttingDown)
	_, err := w.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
}

// Patch 5: in-flight packets come back in the order they entered, whatever
// their ids and however many share a second of Created; a PUBREL replacing
// its PUBREC keeps the message's place, and a session's clone keeps it too.
func TestSignetInflightInOrderEntered(t *testing.T) {
	in := NewInflights()
	ids := []uint16{7, 3, 65535, 1, 2, 9, 4}
	for _, id := range ids {
		require.True(t, in.Set(packets.Packet{PacketID: id, Created: 1700000000, Expiry: -1,
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}}))
	}
	require.False(t, in.Set(packets.Packet{PacketID: 3, Created: 1700000000, Expiry: -1,
		FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}}))
	require.True(t, in.Delete(1))
	require.True(t, in.Set(packets.Packet{PacketID: 1, Created: 1700000000, Expiry: -1}))
	want := []uint16{7, 3, 65535, 2, 9, 4, 1}
	order := func(pks []packets.Packet) []uint16 {
		got := make([]uint16, 0, len(pks))
		for _, pk := range pks {
			got = append(got, pk.PacketID)
		}
		return got
	}
	require.Equal(t, want, order(in.GetAll(false)))
	require.Equal(t, packets.Pubrel, in.internal[3].FixedHeader.Type)
	require.Equal(t, want, order(in.Clone().GetAll(false)))
	first, ok := in.NextImmediate()
	require.True(t, ok)
	require.Equal(t, uint16(7), first.PacketID)

	c := in.Clone()
	require.True(t, c.Set(packets.Packet{PacketID: 5}))
	require.Equal(t, append(want, 5), order(c.GetAll(false)))
	require.Len(t, in.order, len(want), "a clone shares no order with its source")
}

// Patch 5: a resumed session's messages are written in the order they were
// queued (MQTT-4.6.0-1), not in map order.
func TestSignetResendInOrderQueued(t *testing.T) {
	cl, r, _ := newTestClient()
	ids := []uint16{9, 2, 8, 1, 7, 3, 6, 4, 5}
	for _, id := range ids {
		cl.State.Inflight.Set(packets.Packet{PacketID: id, TopicName: "a/b", Created: 1700000000,
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}})
	}
	written := make(chan []byte, 1)
	go func() {
		// A QoS 1 PUBLISH of "a/b" with no payload is 9 bytes; its id ends it.
		buf := make([]byte, 9*len(ids))
		_, _ = io.ReadFull(r, buf) // a short read fails the comparison below
		written <- buf
	}()
	require.NoError(t, cl.ResendInflightMessages(true))
	buf := <-written
	got := make([]uint16, 0, len(ids))
	for p := 0; p+9 <= len(buf); p += 9 {
		got = append(got, uint16(buf[p+7])<<8|uint16(buf[p+8]))
	}
	require.Equal(t, ids, got)
}

// Patch 6: a client's outbound queue keeps mochi's bound and order, and
// holds room only for what has waited in it.
func TestSignetOutQueueBoundAndOrder(t *testing.T) {
	q := newOutQueue(5)
	require.Equal(t, 0, cap(q.pks), "a new client's queue holds no room")
	pks := make([]*packets.Packet, 10)
	for i := range pks {
		pks[i] = &packets.Packet{PacketID: uint16(i + 1)}
	}
	for i := 0; i < 5; i++ {
		require.True(t, q.push(pks[i]))
	}
	require.False(t, q.push(pks[5]), "a sixth packet beyond the bound of 5")
	require.Equal(t, 5, q.len())
	require.Equal(t, 5, cap(q.pks), "the queue's room past its bound")
	next := 0 // the next packet pop must return
	pop := func() {
		pk, ok := q.pop()
		require.True(t, ok)
		require.Same(t, pks[next], pk)
		next++
	}
	pop()
	pop()
	// Two written: two more fit, in the room of the two written.
	require.True(t, q.push(pks[5]))
	require.True(t, q.push(pks[6]))
	require.False(t, q.push(pks[7]))
	require.Equal(t, 5, cap(q.pks), "the queue grew instead of reusing written slots")
	for q.len() > 0 {
		pop()
	}
	require.Equal(t, 7, next)
	_, ok := q.pop()
	require.False(t, ok)
	for _, pk := range q.pks[:cap(q.pks)] {
		require.Nil(t, pk, "a written packet is still referenced")
	}
}

// Patch 6: WriteLoop (which newTestClient starts) writes what is queued, in
// order.
func TestSignetWriteLoopWritesTheQueue(t *testing.T) {
	cl, r, _ := newTestClient()
	defer cl.Stop(nil)
	written := make(chan []byte, 1)
	go func() {
		// Three QoS 0 PUBLISHes of "a/b" with one byte of payload, 8 bytes each.
		buf := make([]byte, 24)
		_, _ = io.ReadFull(r, buf) // a short read fails the comparison below
		written <- buf
	}()
	for i := byte(1); i <= 3; i++ {
		require.True(t, cl.State.outbound.push(&packets.Packet{TopicName: "a/b", Payload: []byte{i},
			FixedHeader: packets.FixedHeader{Type: packets.Publish}}))
	}
	buf := <-written
	for i := 0; i < 3; i++ {
		require.Equal(t, []byte{packets.Publish << 4, 6, 0, 3, 'a', '/', 'b', byte(i + 1)}, buf[8*i:8*i+8])
	}
}

// Patch 6: connecting a client no longer allocates its queue's bound up front.
func BenchmarkSignetNewClient(b *testing.B) {
	o := &ops{info: new(system.Info), hooks: new(Hooks), log: logger, options: &Options{
		Capabilities: &Capabilities{MaximumClientWritesPending: 1024, TopicAliasMaximum: 10000}}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		newClient(nil, o)
	}
}
