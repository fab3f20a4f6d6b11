package broker

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/devices/topic"
)

// MessageRelay is a store shared by several brokers (devices/natsstore)
// that also carries the messages each broker verified to the others, so
// that the brokers make one MQTT namespace: a city application subscribed
// on broker B receives what devices publish through broker A.
type MessageRelay interface {
	// RelayOut sends a message this broker (origin) delivered to the
	// others, without waiting for the network.
	RelayOut(origin, topic string, payload []byte, retain bool, qos byte) error
	// RelayIn calls deliver, one at a time, for each message another
	// broker relays, keeping at most pending messages (pendingBytes bytes)
	// waiting and dropping the rest, until stop.
	RelayIn(self string, pending, pendingBytes int, deliver func(topic string, payload []byte, retain bool, qos byte)) (stop func(), dropped func() uint64, err error)
}

// clusterRelay is this broker's part in the namespace. A message is
// checked once, by the broker its sender is connected to: what reaches
// mochi's OnPublished there has passed the verify hook (a refused message
// never gets that far), and the other brokers deliver it as their own
// broker's message, to the subscriptions their ACL let their users make
// (read rules are checked at SUBSCRIBE, MQTT 5 §3.8.4), without checking
// it again and without relaying it back.
type clusterRelay struct {
	mqtt.HookBase
	relay  MessageRelay
	self   string       // this broker's id on the relay subjects, random per start
	client *mqtt.Client // delivers what the others relay; its messages are never relayed

	out, outFailed, in atomic.Uint64
	stop               func()
	dropped            func() uint64
}

// newClusterRelay returns nil unless the store relays messages and the
// config lets it.
func newClusterRelay(s *Server) *clusterRelay {
	r, ok := s.store.(MessageRelay)
	if !ok || s.cfg.Cluster.LocalOnly {
		return nil
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	c := &clusterRelay{relay: r, self: hex.EncodeToString(id), client: s.mqtt.NewClient(nil, mqtt.LocalListener, "signet-cluster", true)}
	s.metrics.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_cluster_relayed_out_total", Help: "Verified messages sent to the other brokers."},
			func() float64 { return float64(c.out.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_cluster_relay_failed_total", Help: "Verified messages that could not be sent to the other brokers."},
			func() float64 { return float64(c.outFailed.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_cluster_relayed_in_total", Help: "Other brokers' messages delivered here."},
			func() float64 { return float64(c.in.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_cluster_relay_dropped_total", Help: "Other brokers' messages dropped here: cluster.relay_pending was full."},
			func() float64 { return float64(c.droppedNow()) }),
	)
	return c
}

// ID names the hook.
func (c *clusterRelay) ID() string { return "signet-cluster" }

// Provides reports the one event the hook handles.
func (c *clusterRelay) Provides(b byte) bool { return b == mqtt.OnPublished }

// relayed reports whether a message delivered here belongs to the
// namespace: a verified city message, or a twin or security event this
// broker published itself (clients cannot publish under $, MQTT 5 §4.7.2,
// and the ACL refuses them).
func relayed(cl *mqtt.Client, t string) bool {
	if strings.HasPrefix(t, topic.CityRoot+"/") {
		return true
	}
	return cl.Net.Inline && (strings.HasPrefix(t, topic.TwinRoot+"/") || t == EventsTopic)
}

// OnPublished sends a message mochi has just delivered here to the other
// brokers, unless it came from them.
func (c *clusterRelay) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl == c.client || pk.Ignore || !relayed(cl, pk.TopicName) {
		return
	}
	if err := c.relay.RelayOut(c.self, pk.TopicName, pk.Payload, pk.FixedHeader.Retain, pk.FixedHeader.Qos); err != nil {
		c.outFailed.Add(1)
		return
	}
	c.out.Add(1)
}

// start delivers the other brokers' messages here until stopRelay.
func (c *clusterRelay) start(s *Server) error {
	pending, bytes := s.cfg.Cluster.pending()
	stop, dropped, err := c.relay.RelayIn(c.self, pending, bytes, func(t string, payload []byte, retain bool, qos byte) {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: retain, Qos: qos}, TopicName: t, Payload: payload,
			PacketID: uint16(qos)} // as mochi's own Publish: a QoS 1 or 2 PUBLISH must carry one (MQTT 5 §2.2.1)
		if err := s.mqtt.InjectPacket(c.client, pk); err != nil {
			s.log.Debug("delivering a relayed message failed", "topic", t, "err", err)
			return
		}
		c.in.Add(1)
	})
	if err != nil {
		return err
	}
	c.stop, c.dropped = stop, dropped
	s.log.Info("one MQTT namespace with the brokers on the store", "broker", c.self)
	return nil
}

func (c *clusterRelay) stopRelay() {
	if c != nil && c.stop != nil {
		c.stop()
	}
}

func (c *clusterRelay) droppedNow() uint64 {
	if c.dropped == nil {
		return 0
	}
	return c.dropped()
}
