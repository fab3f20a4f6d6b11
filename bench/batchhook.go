package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// BatchHook is the least a broker that checks every signature on the fast
// path can do: in OnPublish, parse the COSE_Sign1 envelope, find the key
// by kid and verify the signature through Signet's batching
// signing.Verifier, exactly as strict does. It has no replay window, no
// store, no twins, no rate limits and no security events. Measured beside
// plain and strict, it shows what the signature costs inside a broker at
// the batch sizes that form, so that strict's CPU above it is Signet's own
// work, measured rather than modelled.
type BatchHook struct {
	mqtt.HookBase
	keys     map[string]signing.PublicKey // kid -> key
	verifier *signing.Verifier
}

// NewBatchHook returns the hook for the devices' keys, with a Verifier of
// the broker's defaults; Stop, which mochi calls as it closes, releases it.
func NewBatchHook(devs []devices.Device) (*BatchHook, error) {
	h := &BatchHook{keys: map[string]signing.PublicKey{}}
	for _, d := range devs {
		for _, k := range d.Keys {
			pub, err := signing.NewPublicKey(k.Alg, k.Public)
			if err != nil {
				return nil, fmt.Errorf("batch hook: device %s key %s: %w", d.ID, signing.FormatKeyID(k.KID), err)
			}
			h.keys[string(k.KID)] = pub
		}
	}
	h.verifier = signing.NewVerifier(signing.VerifierConfig{})
	return h, nil
}

// ID names the hook.
func (h *BatchHook) ID() string { return "bench-batch-verify" }

// Provides reports the one event the hook handles.
func (h *BatchHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// Stop closes the Verifier when mochi closes.
func (h *BatchHook) Stop() error { return h.verifier.Close() }

// batchTBS recycles the Sig_structure buffers, as the verify hook does.
var batchTBS = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// OnPublish verifies messages under city/ and drops those that fail.
func (h *BatchHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, "city/") {
		return pk, nil
	}
	env, err := signing.ParseShared(pk.Payload, 0)
	if err != nil {
		return pk, packets.ErrRejectPacket
	}
	key, ok := h.keys[string(env.Header.KID)]
	if !ok || env.Header.Alg != key.Alg() {
		return pk, packets.ErrRejectPacket
	}
	tbs := batchTBS.Get().(*[]byte)
	*tbs = signing.AppendToBeSigned((*tbs)[:0], env.Protected, pk.TopicName, env.Payload)
	ok, err = h.verifier.Verify(context.Background(), key, *tbs, env.Signature)
	batchTBS.Put(tbs)
	if err != nil || !ok {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}
