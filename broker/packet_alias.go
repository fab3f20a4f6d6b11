package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// resolveTopic returns the topic a PUBLISH is for, resolving its topic
// alias with the connection's table, or the reason code to disconnect
// with.
//
// mochi v2.7.9 runs the write ACL on the topic name as sent, before it
// resolves an alias, and its alias table answers "" for an alias it never
// saw: a PUBLISH with an empty topic and a fresh alias passed the ACL and was
// stored and delivered with topic "". Here the alias is resolved first, with
// mochi's semantics (a non-empty topic sets the alias, an empty one uses it),
// and the rules of MQTT 5 §3.3.2.3.4 are enforced:
//
//   - an alias of 0, or above the Topic Alias Maximum the broker advertised,
//     is 0x94 Topic Alias invalid;
//   - an empty topic with an alias that has no mapping on this connection,
//     or with no alias at all, is 0x82 Protocol Error.
//
// MQTT 3.1.1 has no aliases, and a topic name is never empty (MQTT 3.1.1
// §4.7.3): an empty one is a protocol error too.
func (h *PacketHook) resolveTopic(cl *mqtt.Client, pk packets.Packet) (string, packets.Code) {
	name := pk.TopicName
	if cl.Properties.ProtocolVersion < 5 || !pk.Properties.TopicAliasFlag {
		if name == "" {
			return "", packets.ErrProtocolViolationNoTopic
		}
		return name, packets.CodeSuccess
	}
	alias := pk.Properties.TopicAlias
	if alias == 0 || alias > h.maxAlias {
		return "", packets.ErrTopicAliasInvalid
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	table := h.aliases[cl]
	if name != "" {
		if table == nil {
			table = map[uint16]string{}
			h.aliases[cl] = table
		}
		table[alias] = name
		return name, packets.CodeSuccess
	}
	if name = table[alias]; name == "" {
		return "", packets.ErrProtocolViolationNoTopic
	}
	return name, packets.CodeSuccess
}
