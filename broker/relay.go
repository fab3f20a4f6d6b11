package broker

import (
	"context"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// Relay runs a command that arrived by another way than MQTT (the HTTP
// command API) through the same checks as a PUBLISH from client
// from: topic shape, rate limit, parse, key, the sender being the operator
// or an admin, replay, signature, endorsement, freshness, safety, and the
// durable commit. A refusal is one security event, as for MQTT. On nil the
// command is committed and the caller publishes it (with the broker's own
// client, which the verify hook lets through); the broker never signs it.
func (h *VerifyHook) Relay(ctx context.Context, from Identity, remote, t string, payload []byte) error {
	cl := &mqtt.Client{ID: "http:" + from.Name}
	cl.Net.Remote = remote
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: t, Payload: payload}
	v := verdict{topic: t, client: cl.ID}
	h.inflight.Add(1)
	defer h.inflight.Done()
	start := h.now()
	var err error
	if c, perr := topic.ParseCity(t); perr != nil || c.Class != topic.Cmd {
		err = signing.Reject(signing.ReasonBadTopic, "topic", "%q is not a command topic (city/{zone}/{device}/cmd/{name})", t)
	} else {
		err = h.check(ctx, cl, sender{id: from, known: true}, pk, &v, nil)
	}
	h.conclude(cl, pk, &v, err, start)
	return err
}
