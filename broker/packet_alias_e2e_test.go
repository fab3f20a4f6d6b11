package broker_test

import (
	"context"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker"
)

// TestEmptyTopicWithUnknownAliasIsRefused: an MQTT 5 PUBLISH with an empty
// topic name and a topic alias that was never set up, retained, from an
// anonymous client, used to be acknowledged, stored as a retained message
// with topic "" and handed to subscribers of city/ and $twin/ filters. It
// now ends the connection with DISCONNECT 0x82 (MQTT 5 §3.3.2.3.4), as does
// an empty topic without an alias; an alias above the advertised maximum
// gets 0x94; an MQTT 3.1.1 PUBLISH with an empty topic closes the
// connection. Nothing with an empty topic is stored or delivered, and a
// device that uses aliases properly keeps working throughout.
func TestEmptyTopicWithUnknownAliasIsRefused(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	admin := c.connect(t, "ops-console", "admin")
	live := subscribe(t, admin, "city/+/+/state")

	alias := func(a uint16) packets.Properties { return packets.Properties{TopicAlias: a, TopicAliasFlag: true} }
	attacks := []struct {
		name    string
		version byte
		user    string
		props   packets.Properties
		topic   string
		want    byte // DISCONNECT reason; 0: MQTT 3.1.1, no DISCONNECT
	}{
		{"anonymous, empty topic, unknown alias", 5, "", alias(7), "", 0x82},
		{"empty topic, no alias", 5, "", packets.Properties{}, "", 0x82},
		{"alias above the maximum", 5, "", alias(broker.DefaultTopicAliasMaximum + 1), "ops/x", 0x94},
		{"MQTT 3.1.1, empty topic", 4, "", packets.Properties{}, "", 0},
	}
	for i, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			raw := connectRaw(t, c.srv.MQTTAddr(), a.version, "anon-"+string(rune('a'+i)), a.user, nil)
			raw.write(t, packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Retain: true},
				PacketID:    1, TopicName: a.topic, Properties: a.props, Payload: []byte(`{"level":100}`),
			})
			got := raw.waitClosed(t)
			for _, pk := range got {
				if pk.FixedHeader.Type == packets.Puback {
					t.Fatalf("the PUBLISH was acknowledged (reason %#x)", pk.ReasonCode)
				}
			}
			if a.want != 0 && (len(got) != 1 || got[0].FixedHeader.Type != packets.Disconnect || got[0].ReasonCode != a.want) {
				t.Fatalf("got %d packets (first: type %d) before the close, want one DISCONNECT with reason %#x", len(got), got[0].FixedHeader.Type, a.want)
			}
		})
	}

	// An honest MQTT 5 device sets alias 1 with its first message and uses
	// it with an empty topic for the second: both are verified and
	// delivered under the real topic.
	dev := c.connect5(t, "sl-1", "", "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const tp = "city/z1/sl-1/state"
	one := uint16(1)
	for i, topicName := range []string{tp, ""} {
		msg := c.devs["sl-1"].sign(t, tp, []byte(`{"level":`+string(rune('1'+i))+`}`))
		resp, err := dev.Publish(ctx, &paho5.Publish{Topic: topicName, QoS: 1, Payload: msg, Properties: &paho5.PublishProperties{TopicAlias: &one}})
		if err != nil || resp.ReasonCode != 0 {
			t.Fatalf("honest publish %d: %+v %v", i, resp, err)
		}
		if m := live.next(t); m.Topic() != tp || string(m.Payload()) != string(msg) {
			t.Fatalf("subscriber got %q %x, want the device's message on %s", m.Topic(), m.Payload(), tp)
		}
	}

	// A subscriber arriving now gets no retained message with an empty
	// topic: mochi looks a filter's last literal level up by its retained
	// path, "" where none is retained, so a message stored under "" came
	// to every such filter. The first message it sees is the device's
	// next one. (Not a $twin/ wildcard here: mochi v2.7.9 reads retained
	// paths during a wildcard scan without the lock the twin publisher's
	// writes take, which the race detector reports.)
	late := c.connect(t, "late-viewer", "admin")
	states := subscribe(t, late, "city/+/+/state")
	msg := c.devs["sl-1"].sign(t, tp, []byte(`{"level":9}`))
	if resp, err := dev.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: msg}); err != nil || resp.ReasonCode != 0 {
		t.Fatalf("honest publish: %+v %v", resp, err)
	}
	if m := states.next(t); m.Topic() != tp || string(m.Payload()) != string(msg) {
		t.Fatalf("late subscriber got %q %x first, want the device's message", m.Topic(), m.Payload())
	}
}
