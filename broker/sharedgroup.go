package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// OnSelectSubscribers keeps in each shared subscription group only the
// members that may read the message, before mochi picks one member per
// group (MQTT 5 §4.8.2). mochi runs the read ACL only on the member it
// picked, so without this a member that may not read the topic would be
// picked, refused, and the message lost to the members that may.
func (h *AccessHook) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	for group, members := range subs.Shared {
		for clientID := range members {
			if id, ok := h.sessions.identityOf(clientID); !ok || !id.MayRead(pk.TopicName) {
				delete(members, clientID)
			}
		}
		if len(members) == 0 {
			delete(subs.Shared, group)
		}
	}
	return subs
}
