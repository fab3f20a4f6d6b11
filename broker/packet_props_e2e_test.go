package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"
)

// subscribe5 subscribes an MQTT 5 client to filter (a topic, or a prefix
// ending in #) and returns the channel its messages arrive on.
func subscribe5(t *testing.T, cl *client5, filter string) chan *paho5.Publish {
	t.Helper()
	ch := make(chan *paho5.Publish, 64)
	prefix, wild := strings.CutSuffix(filter, "#")
	cl.AddOnPublishReceived(func(pr paho5.PublishReceived) (bool, error) {
		// Every callback sees every message: keep this filter's own.
		if tp := pr.Packet.Topic; tp == filter || (wild && strings.HasPrefix(tp, prefix)) {
			ch <- pr.Packet
		}
		return true, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cl.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: filter, QoS: 1}}}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
	return ch
}

// next5 returns the next message, failing after a generous deadline.
func next5(t *testing.T, ch chan *paho5.Publish) *paho5.Publish {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(20 * time.Second):
		t.Fatal("no message arrived")
		return nil
	}
}

// TestCityMessagesCarryNoMQTT5Properties: user properties, content type,
// response topic, correlation data, payload format and the sender's message
// expiry are not signed, so they never reach a subscriber of a city/
// message, live or retained; the signed envelope does, unchanged. Ordinary
// topics keep their properties.
func TestCityMessagesCarryNoMQTT5Properties(t *testing.T) {
	c := startCity(t, nil)
	sub := c.connect5(t, "ops-console", "admin", testPassword, nil)
	city := subscribe5(t, sub, "city/#")
	ops := subscribe5(t, sub, "ops/#")
	dev := c.connect5(t, "sl-1", "", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	format, expiry := byte(1), uint32(7)
	props := func() *paho5.PublishProperties {
		return &paho5.PublishProperties{
			User: paho5.UserProperties{{Key: "approved-by", Value: "mayor"}}, ContentType: "application/x-evil",
			ResponseTopic: "city/z1/sl-2/cmd/dim", CorrelationData: []byte("corr"), PayloadFormat: &format, MessageExpiry: &expiry,
		}
	}
	const tp = "city/z1/sl-1/state"
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"level":42}`))
	if resp, err := dev.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Retain: true, Payload: msg, Properties: props()}); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish: %+v %v", resp, err)
	}
	bare := func(what string, m *paho5.Publish) {
		t.Helper()
		if string(m.Payload) != string(msg) {
			t.Fatalf("%s: payload %x, want the signed envelope unchanged", what, m.Payload)
		}
		p := m.Properties
		if p == nil {
			return
		}
		if len(p.User) != 0 || p.ContentType != "" || p.ResponseTopic != "" || len(p.CorrelationData) != 0 || p.PayloadFormat != nil ||
			(p.MessageExpiry != nil && *p.MessageExpiry == expiry) {
			t.Fatalf("%s: unsigned properties delivered: %+v", what, p)
		}
	}
	bare("live", next5(t, city))

	// The retained copy, as a subscriber arriving later gets it.
	late := c.connect5(t, "late-console", "admin", testPassword, nil)
	bare("retained", next5(t, subscribe5(t, late, tp)))

	// Ordinary MQTT is not Signet's to change.
	if resp, err := sub.Publish(ctx, &paho5.Publish{Topic: "ops/notes", QoS: 1, Payload: []byte("n"), Properties: props()}); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish ops/notes: %+v %v", resp, err)
	}
	if m := next5(t, ops); m.Properties == nil || m.Properties.User.Get("approved-by") != "mayor" || m.Properties.ContentType != "application/x-evil" {
		t.Fatalf("ordinary topic lost its properties: %+v", m.Properties)
	}
}

// TestPubackIsValidWithUserProperties: mochi copied a PUBLISH's properties
// onto its PUBACK and then wrote reason code 0x01, which is no PUBACK reason
// code (MQTT 5 §3.4.2.1). With user properties on a QoS 1 or 2 PUBLISH, the
// acknowledgement is now a success that echoes nothing, for a raw client
// and for paho.golang, on an ordinary topic and on a city/ one.
func TestPubackIsValidWithUserProperties(t *testing.T) {
	c := startCity(t, nil)
	raw := connectRaw(t, c.srv.MQTTAddr(), 5, "raw-admin", "admin", []byte(testPassword))
	user := packets.Properties{User: []packets.UserProperty{{Key: "trace", Val: "1"}}}
	for qos, want := range map[byte]byte{1: packets.Puback, 2: packets.Pubrec} {
		raw.write(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos}, PacketID: uint16(qos), TopicName: "ops/x", Properties: user, Payload: []byte("x")})
		ack := raw.read(t)
		if ack.FixedHeader.Type != want || ack.PacketID != uint16(qos) || ack.ReasonCode != packets.CodeSuccess.Code || len(ack.Properties.User) != 0 {
			t.Fatalf("QoS %d: ack type %d id %d reason %#x user properties %v, want a plain success", qos, ack.FixedHeader.Type, ack.PacketID, ack.ReasonCode, ack.Properties.User)
		}
	}

	dev := c.connect5(t, "sl-1", "", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const tp = "city/z1/sl-1/tele/power"
	for i, topicName := range []string{"ops/y", tp} {
		payload := []byte("y")
		if topicName == tp {
			payload = c.devs["sl-1"].sign(t, tp, []byte(`{"w":1}`))
		}
		resp, err := dev.Publish(ctx, &paho5.Publish{Topic: topicName, QoS: 1, Payload: payload,
			Properties: &paho5.PublishProperties{User: paho5.UserProperties{{Key: "trace", Value: "2"}}}})
		if err != nil || resp.ReasonCode != 0 || (resp.Properties != nil && len(resp.Properties.User) != 0) {
			t.Fatalf("publish %d on %s: %+v %v, want success with no echoed properties", i, topicName, resp, err)
		}
	}
	// The connection is still usable after both.
	if resp, err := dev.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: c.devs["sl-1"].sign(t, tp, []byte(`{"w":2}`))}); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("publish after: %+v %v", resp, err)
	}
}
