package natsstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// RelaySubjects is where brokers sharing the store send one another the
// messages they verified, one subject per broker: signet.mqtt.<origin>.
// It is core NATS, not a stream: a message that no broker is there to
// deliver now is of no use later (MQTT's own retained messages and
// sessions are each broker's), and a broker that is down misses it as a
// subscriber would.
const RelaySubjects = "signet.mqtt.*"

// relayHeader is the frame before a relayed message's topic: flags (bit 0
// retain, bits 1-2 QoS) and the topic's length, big-endian.
const relayHeader = 3

// RelayOut sends one message this broker (origin) verified and delivered
// to the other brokers. It does not wait for the network: the connection
// buffers it, and a message that cannot be buffered is dropped (and
// counted by the caller's metrics through the error).
func (s *Store) RelayOut(origin, topic string, payload []byte, retain bool, qos byte) error {
	if len(topic) > 0xffff {
		return fmt.Errorf("relaying %d-byte topic: longer than MQTT allows", len(topic))
	}
	b := make([]byte, relayHeader, relayHeader+len(topic)+len(payload))
	if retain {
		b[0] = 1
	}
	b[0] |= (qos & 3) << 1
	binary.BigEndian.PutUint16(b[1:], uint16(len(topic)))
	b = append(append(b, topic...), payload...)
	return s.nc.Publish("signet.mqtt."+origin, b)
}

// RelayIn delivers, one at a time and in the order each broker sent them,
// the messages every other broker relays; its own (self) are skipped.
// At most pending messages or pendingBytes bytes wait for deliver; more
// are dropped by the client library and counted by dropped. stop ends it.
func (s *Store) RelayIn(self string, pending, pendingBytes int, deliver func(topic string, payload []byte, retain bool, qos byte)) (stop func(), dropped func() uint64, err error) {
	own := "signet.mqtt." + self
	sub, err := s.nc.Subscribe(RelaySubjects, func(m *nats.Msg) {
		if m.Subject == own {
			return
		}
		topic, payload, retain, qos, err := parseRelayed(m.Data)
		if err != nil {
			s.log.Warn("a relayed message is malformed; dropped", "subject", m.Subject, "err", err)
			return
		}
		deliver(topic, payload, retain, qos)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("nats store: subscribing to %s: %w", RelaySubjects, err)
	}
	if err := sub.SetPendingLimits(pending, pendingBytes); err != nil {
		sub.Unsubscribe()
		return nil, nil, fmt.Errorf("nats store: bounding %s: %w", RelaySubjects, err)
	}
	dropped = func() uint64 {
		n, _ := sub.Dropped()
		return uint64(max(n, 0))
	}
	return func() { _ = sub.Unsubscribe() }, dropped, nil
}

func parseRelayed(b []byte) (topic string, payload []byte, retain bool, qos byte, err error) {
	if len(b) < relayHeader {
		return "", nil, false, 0, errors.New("shorter than its header")
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if len(b) < relayHeader+n || n == 0 {
		return "", nil, false, 0, fmt.Errorf("topic of %d bytes in %d", n, len(b))
	}
	qos = (b[0] >> 1) & 3
	if qos > 2 {
		return "", nil, false, 0, errors.New("QoS 3")
	}
	return string(b[relayHeader : relayHeader+n]), b[relayHeader+n:], b[0]&1 == 1, qos, nil
}
