package broker

import (
	"fmt"
	"time"

	"github.com/signet-city/signet/signing"
)

// Defaults of the connections: section.
const (
	// DefaultConnectTimeout is how long a new connection may take to send
	// its CONNECT packet (a TLS handshake included).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxConnecting is how many connections may be waiting for
	// their CONNECT to be read and authenticated at once.
	DefaultMaxConnecting = 256
	// DefaultTopicAliasMaximum is the highest MQTT 5 topic alias a client
	// may use (advertised in CONNACK). Each alias keeps one topic name per
	// connection, so the bound is also a memory bound.
	DefaultTopicAliasMaximum = 16
	// PacketHeaderRoom is what a packet may carry beside the envelope when
	// max_packet_bytes is derived: fixed header, topic name, packet id and
	// MQTT 5 properties.
	PacketHeaderRoom = 4 << 10
	// mqttMaxPacket is the largest packet MQTT can express: a 1-byte fixed
	// header, a 4-byte remaining length of at most 268,435,455 (MQTT 5
	// §1.5.5, §2.1.4).
	mqttMaxPacket = 1 + 4 + 268_435_455
)

// ConnectionsConfig bounds what a connection may cost the broker before
// and after it has authenticated: packet size, the time to send CONNECT,
// how many connections may be unauthenticated at once, and topic aliases.
type ConnectionsConfig struct {
	// MaxPacketBytes is the largest MQTT packet the broker reads, also
	// advertised to MQTT 5 clients as Maximum Packet Size (0: the
	// envelope limit, max_message_bytes, plus PacketHeaderRoom).
	MaxPacketBytes int `yaml:"max_packet_bytes"`
	// ConnectTimeout closes a connection that has not sent its CONNECT in
	// time (0: DefaultConnectTimeout).
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxConnecting is how many connections may be between accept and
	// the end of authentication at once; more are closed at once (0:
	// DefaultMaxConnecting).
	MaxConnecting int `yaml:"max_connecting"`
	// TopicAliasMaximum is the highest topic alias an MQTT 5 client may
	// use (0: DefaultTopicAliasMaximum).
	TopicAliasMaximum int `yaml:"topic_alias_maximum"`
}

// validate names the first field of connections: that is wrong.
// maxMessage is the configuration's max_message_bytes.
func (c ConnectionsConfig) validate(maxMessage int) error {
	switch {
	case c.MaxPacketBytes < 0:
		return fmt.Errorf("connections.max_packet_bytes: %d must not be negative (0: derived from max_message_bytes)", c.MaxPacketBytes)
	case c.MaxPacketBytes > mqttMaxPacket:
		return fmt.Errorf("connections.max_packet_bytes: %d is more than MQTT allows (%d)", c.MaxPacketBytes, mqttMaxPacket)
	case c.MaxPacketBytes > 0 && c.MaxPacketBytes < envelopeLimit(maxMessage):
		return fmt.Errorf("connections.max_packet_bytes: %d is below max_message_bytes (%d): no envelope of full size could arrive", c.MaxPacketBytes, envelopeLimit(maxMessage))
	case c.ConnectTimeout < 0:
		return fmt.Errorf("connections.connect_timeout: %s must not be negative", c.ConnectTimeout)
	case c.MaxConnecting < 0:
		return fmt.Errorf("connections.max_connecting: %d must not be negative", c.MaxConnecting)
	case c.TopicAliasMaximum < 0 || c.TopicAliasMaximum > 65535:
		return fmt.Errorf("connections.topic_alias_maximum: %d is not between 0 and 65535 (MQTT 5 §3.2.2.3.8)", c.TopicAliasMaximum)
	}
	return nil
}

// envelopeLimit is the effective max_message_bytes.
func envelopeLimit(maxMessage int) int {
	if maxMessage <= 0 {
		return signing.DefaultMaxSize
	}
	return maxMessage
}

// packetLimit is the effective max_packet_bytes.
func (c ConnectionsConfig) packetLimit(maxMessage int) uint32 {
	if c.MaxPacketBytes > 0 {
		return uint32(c.MaxPacketBytes)
	}
	return uint32(min(envelopeLimit(maxMessage)+PacketHeaderRoom, mqttMaxPacket))
}

// connectTimeout is the effective connect_timeout.
func (c ConnectionsConfig) connectTimeout() time.Duration {
	if c.ConnectTimeout > 0 {
		return c.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// maxConnecting is the effective max_connecting.
func (c ConnectionsConfig) maxConnecting() int {
	if c.MaxConnecting > 0 {
		return c.MaxConnecting
	}
	return DefaultMaxConnecting
}

// topicAliasMaximum is the effective topic_alias_maximum.
func (c ConnectionsConfig) topicAliasMaximum() uint16 {
	if c.TopicAliasMaximum > 0 {
		return uint16(c.TopicAliasMaximum)
	}
	return DefaultTopicAliasMaximum
}
