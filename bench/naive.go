package bench

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// NaiveHook is the baseline a first attempt at signed MQTT would write:
// in OnPublish, on the connection's own goroutine, parse the COSE_Sign1
// envelope, find the key by kid and call crypto/ed25519.Verify. It has no
// replay window, no store, no batching and no security events; it only
// shows what per-message signature checking costs done inline.
type NaiveHook struct {
	mqtt.HookBase
	keys map[string]ed25519.PublicKey // kid -> key
}

// NewNaiveHook returns the hook for the devices' Ed25519 keys.
func NewNaiveHook(devs []devices.Device) (*NaiveHook, error) {
	h := &NaiveHook{keys: map[string]ed25519.PublicKey{}}
	for _, d := range devs {
		for _, k := range d.Keys {
			if len(k.Public) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("naive hook: device %s key %s: not an Ed25519 key", d.ID, signing.FormatKeyID(k.KID))
			}
			h.keys[string(k.KID)] = ed25519.PublicKey(k.Public)
		}
	}
	return h, nil
}

// ID names the hook.
func (h *NaiveHook) ID() string { return "bench-naive-verify" }

// Provides reports the one event the hook handles.
func (h *NaiveHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish verifies messages under city/ and drops those that fail.
func (h *NaiveHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, "city/") {
		return pk, nil
	}
	env, err := signing.Parse(pk.Payload, 0)
	if err != nil {
		return pk, packets.ErrRejectPacket
	}
	key, ok := h.keys[string(env.Header.KID)]
	if !ok || !ed25519.Verify(key, env.ToBeSigned(pk.TopicName), env.Signature) {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}
