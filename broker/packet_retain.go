package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices/topic"
)

// OnPublish refuses what must never be stored or delivered, before the
// verify hook spends any work on it: a PUBLISH whose topic is still empty
// (OnPacketRead ends such connections; this is the second lock), and a
// retained PUBLISH on a command topic.
//
// A command is an instruction for now: its envelope must expire within a
// minute of its iat. mochi would keep a retained command and hand it to
// every later subscriber, long after it expired, and the last one sent
// would sit on the topic for ever. A retained command is therefore refused
// outright rather than stored, or delivered with its retain flag cleared:
// the operator's tool learns that the command was not sent instead of
// believing it is kept for the device. An MQTT 5 client gets PUBACK/PUBREC
// reason 0x83 (implementation specific error: the PUBLISH is valid but the
// broker does not accept it, MQTT 5 §3.4.2.1); an MQTT 3.1.1 client gets a
// plain acknowledgement, as for any refused message, and the command is
// dropped. Either way there is one security event.
func (h *PacketHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if pk.TopicName == "" {
		h.record(cl, "", "bad_publish_topic", "a PUBLISH reached OnPublish with no topic")
		return pk, packets.ErrRejectPacket
	}
	if pk.FixedHeader.Retain && isCommandTopic(pk.TopicName) {
		h.record(cl, pk.TopicName, "retained_command", "commands are never retained: publish with retain=0")
		h.refuseAck(cl, pk, packets.ErrImplementationSpecificError)
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

// isCommandTopic reports whether t is a command topic,
// city/{zone}/{device}/cmd/{name}. (A malformed city/ topic is refused
// anyway, as bad_topic, by the verify hook.)
func isCommandTopic(t string) bool {
	c, err := topic.ParseCity(t)
	return err == nil && c.Class == topic.Cmd
}

// refuseAck acknowledges a refused QoS 1 or 2 PUBLISH so the client does
// not resend it: with code for MQTT 5, plain for MQTT 3.1.1 (which has no
// reason codes). QoS 0 has no acknowledgement.
func (h *PacketHook) refuseAck(cl *mqtt.Client, pk packets.Packet, code packets.Code) {
	if pk.FixedHeader.Qos == 0 {
		return
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec
	}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode = code.Code
	}
	if err := cl.WritePacket(ack); err != nil {
		h.log.Debug("writing a refusal ack failed", "client", cl.ID, "err", err)
	}
}
