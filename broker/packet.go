package broker

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices/topic"
)

// PacketHook hardens what mochi does with PUBLISH packets before any other
// hook sees them, and what it tells MQTT 5 clients in CONNACK:
//
//   - topic aliases are resolved here, per connection (packet_alias.go), so
//     that the write ACL, the verify hook, retained storage and delivery all
//     see the topic the message is really for, and a PUBLISH whose topic is
//     empty once resolved never goes further;
//   - messages under city/ lose every MQTT 5 property (packet_strip.go): a
//     subscriber gets only the signed envelope;
//   - a retained PUBLISH on a command topic is refused (packet_retain.go);
//   - CONNACK advertises Maximum Packet Size and Topic Alias Maximum.
//
// It must be the first hook added, so that its OnPublish runs before the
// verify hook's.
type PacketHook struct {
	mqtt.HookBase
	maxPacket  uint32
	maxAlias   uint16
	disconnect func(*mqtt.Client, packets.Code) error // mochi's Server.DisconnectClient
	events     EventSink
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	aliases map[*mqtt.Client]map[uint16]string // inbound topic aliases of each connection
}

// PacketConfig assembles a PacketHook.
type PacketConfig struct {
	MaxPacket uint32 // advertised as Maximum Packet Size (mochi enforces it on reads)
	MaxAlias  uint16 // highest topic alias accepted, advertised as Topic Alias Maximum
	// Disconnect sends an MQTT 5 DISCONNECT with a reason code and closes
	// the connection (mqtt.Server's DisconnectClient). Required.
	Disconnect func(*mqtt.Client, packets.Code) error
	Events     EventSink // nil: no security events
	Logger     *slog.Logger
}

// NewPacketHook returns the hook.
func NewPacketHook(c PacketConfig) *PacketHook {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &PacketHook{
		maxPacket: c.MaxPacket, maxAlias: c.MaxAlias, disconnect: c.Disconnect, events: c.Events, log: c.Logger,
		now: time.Now, aliases: map[*mqtt.Client]map[uint16]string{},
	}
}

// ID names the hook.
func (h *PacketHook) ID() string { return "signet-packet" }

// Provides lists the events the hook handles.
func (h *PacketHook) Provides(b byte) bool {
	return oneOf(b, mqtt.OnPacketRead, mqtt.OnPublish, mqtt.OnPacketEncode, mqtt.OnDisconnect)
}

// OnPacketRead resolves a PUBLISH's topic alias and strips the properties of
// a message under city/, before mochi's ACL check and every hook's
// OnPublish. A PUBLISH that breaks the topic rules ends the connection:
// mochi ends it when this hook returns packets.ErrRejectPacket (any other
// error from OnPacketRead mochi ignores).
func (h *PacketHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	name, code := h.resolveTopic(cl, pk)
	if code != packets.CodeSuccess {
		h.record(cl, pk.TopicName, "bad_publish_topic", code.Reason)
		h.refuseConnection(cl, code)
		return pk, packets.ErrRejectPacket
	}
	pk.TopicName = name
	// Resolved: mochi must not look the alias up again (its own table is
	// never filled, and would answer "" for every alias).
	pk.Properties.TopicAliasFlag, pk.Properties.TopicAlias = false, 0
	if strings.HasPrefix(pk.TopicName, topic.CityRoot+"/") {
		stripProperties(&pk)
	}
	return pk, nil
}

// refuseConnection ends cl's connection for a protocol error: MQTT 5
// clients get a DISCONNECT with the reason code first; MQTT 3.1.1 has none
// and its connection is just closed (MQTT 3.1.1 §4.8).
func (h *PacketHook) refuseConnection(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion == 5 && h.disconnect != nil {
		_ = h.disconnect(cl, code)
		return
	}
	cl.Stop(code)
}

// OnPacketEncode adds to a successful MQTT 5 CONNACK the limits the broker
// applies: Maximum Packet Size (MQTT 5 §3.2.2.3.6), which mochi enforces on
// reads but never announces, and Topic Alias Maximum (§3.2.2.3.8), without
// which a client may not use aliases at all.
func (h *PacketHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type == packets.Connack && cl.Properties.ProtocolVersion == 5 && pk.ReasonCode < packets.ErrUnspecifiedError.Code {
		pk.Properties.MaximumPacketSize = h.maxPacket
		pk.Properties.TopicAliasMaximum = h.maxAlias
	}
	return pk
}

// OnDisconnect forgets the connection's topic aliases: they live only as
// long as the network connection (MQTT 5 §3.3.2.3.4).
func (h *PacketHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	delete(h.aliases, cl)
	h.mu.Unlock()
}

// record writes a security event for a packet the hook refused.
func (h *PacketHook) record(cl *mqtt.Client, t, reason, detail string) {
	if h.events == nil {
		return
	}
	h.events.Record(audit.Event{Time: h.now().UTC(), Kind: "packet_refused", Client: cl.ID, Remote: cl.Net.Remote, Topic: t, Reason: reason, Detail: detail})
}
