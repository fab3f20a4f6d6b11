package broker

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestProvides: each hook takes exactly the events it handles.
func TestProvides(t *testing.T) {
	for _, c := range []struct {
		name string
		hook mqtt.Hook
		want []byte
	}{
		{"access", &AccessHook{}, []byte{mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnWill, mqtt.OnDisconnect, mqtt.OnClientExpired, mqtt.OnSelectSubscribers}},
		{"connstate", &connTracker{}, []byte{mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPublished}},
		{"packet", &PacketHook{}, []byte{mqtt.OnPacketRead, mqtt.OnPublish, mqtt.OnPacketEncode, mqtt.OnDisconnect}},
		{"conngate", &ConnGate{}, []byte{mqtt.OnConnect, mqtt.OnSessionEstablish}},
	} {
		for e := byte(0); e < 64; e++ {
			want := false
			for _, w := range c.want {
				want = want || w == e
			}
			if got := c.hook.Provides(e); got != want {
				t.Errorf("%s: Provides(%d) = %v, want %v", c.name, e, got, want)
			}
		}
	}
}
