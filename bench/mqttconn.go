package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// mqttConn is a minimal MQTT 3.1.1 client (OASIS MQTT 3.1.1 §3): CONNECT,
// PUBLISH at QoS 0 and 1, PUBACK and SUBSCRIBE, over one net.Conn, and
// nothing else (no session state, no reconnects, no QoS 2).
//
// The load driver uses it instead of paho.mqtt.golang because the driver
// shares the 2-core box with the broker under test, and every microsecond
// it spends per message is taken from the broker: paho spends, per
// publish, a token, a channel hand-off to its own writer goroutine, a
// packet struct and a copy of the message, plus three goroutines per
// connection. Here a publish is one buffer append and one write on the
// sending goroutine. (This choice was not re-measured against paho in the
// issue 7 runs; a paho driver could be added behind LoadOptions to show it.)
type mqttConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// MQTT 3.1.1 packet types (§2.2.1).
const (
	mqttConnect   = 1
	mqttConnack   = 2
	mqttPublish   = 3
	mqttPuback    = 4
	mqttSubscribe = 8
	mqttSuback    = 9
)

// dialMQTT connects and logs in (clean session), and returns once the
// broker's CONNACK accepted the session.
func dialMQTT(ctx context.Context, addr, clientID, user string, password []byte) (*mqttConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt %s: %w", addr, err)
	}
	m := &mqttConn{conn: conn, r: bufio.NewReaderSize(conn, 16<<10)}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	var body []byte
	body = appendString(body, "MQTT")
	flags := byte(0x02) // clean session
	if user != "" {
		flags |= 0x80
	}
	if password != nil {
		flags |= 0x40
	}
	body = append(body, 4, flags, 0x02, 0x58) // level 4 (3.1.1), keep alive 600 s
	body = appendString(body, clientID)
	if user != "" {
		body = appendString(body, user)
	}
	if password != nil {
		body = appendString(body, string(password))
	}
	if _, err := conn.Write(appendPacket(nil, mqttConnect<<4, body)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("mqtt %s: connect %s: %w", addr, clientID, err)
	}
	typ, ack, err := m.readPacket()
	if err == nil && (typ>>4 != mqttConnack || len(ack) != 2) {
		err = fmt.Errorf("expected CONNACK, got packet type %d", typ>>4)
	}
	if err == nil && ack[1] != 0 {
		err = fmt.Errorf("broker refused the connection (CONNACK return code %d)", ack[1])
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("mqtt %s: connect %s: %w", addr, clientID, err)
	}
	conn.SetDeadline(time.Time{})
	return m, nil
}

// subscribe subscribes to filters at QoS 0 and waits for the SUBACK.
func (m *mqttConn) subscribe(filters ...string) error {
	body := []byte{0, 1} // packet id 1
	for _, f := range filters {
		body = append(appendString(body, f), 0)
	}
	if _, err := m.conn.Write(appendPacket(nil, mqttSubscribe<<4|0x02, body)); err != nil {
		return fmt.Errorf("subscribe %v: %w", filters, err)
	}
	for {
		typ, ack, err := m.readPacket()
		if err != nil {
			return fmt.Errorf("subscribe %v: %w", filters, err)
		}
		if typ>>4 != mqttSuback {
			continue // a retained message may come first
		}
		for _, rc := range ack[2:] {
			if rc == 0x80 {
				return fmt.Errorf("subscribe %v: refused by the broker", filters)
			}
		}
		return nil
	}
}

// appendPublish appends a PUBLISH packet (§3.3); id is used at QoS 1 only.
func appendPublish(buf []byte, topic string, payload []byte, qos byte, id uint16) []byte {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	buf = append(buf, mqttPublish<<4|qos<<1)
	buf = appendLength(buf, n)
	buf = appendString(buf, topic)
	if qos > 0 {
		buf = binary.BigEndian.AppendUint16(buf, id)
	}
	return append(buf, payload...)
}

// readPacket reads one packet: its first byte and its body. The body is
// valid until the next call.
func (m *mqttConn) readPacket() (byte, []byte, error) {
	typ, err := m.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := m.r.ReadByte()
		if err != nil {
			return 0, nil, noEOF(err)
		}
		n += int(b&0x7f) * mult
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
		mult <<= 7
	}
	body, err := m.r.Peek(n)
	if err != nil && n > m.r.Size() {
		body = make([]byte, n)
		_, err = io.ReadFull(m.r, body)
		return typ, body, noEOF(err)
	}
	if err != nil {
		return 0, nil, noEOF(err)
	}
	m.r.Discard(n)
	return typ, body, nil
}

// publishTopic returns the topic and payload of a PUBLISH body.
func publishTopic(typ byte, body []byte) (string, []byte, bool) {
	if len(body) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(body))
	rest := body[2:]
	if len(rest) < n {
		return "", nil, false
	}
	t, rest := string(rest[:n]), rest[n:]
	if (typ>>1)&3 > 0 {
		if len(rest) < 2 {
			return "", nil, false
		}
		rest = rest[2:]
	}
	return t, rest, true
}

func (m *mqttConn) Close() error { return m.conn.Close() }

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// appendLength appends the variable-length "remaining length" (§2.2.3).
func appendLength(b []byte, n int) []byte {
	for {
		d := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func appendPacket(b []byte, first byte, body []byte) []byte {
	b = append(b, first)
	b = appendLength(b, len(body))
	return append(b, body...)
}
