package broker_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawClient speaks MQTT over a bare TCP connection, with mochi's packet
// codec, for tests whose point is a packet no well-behaved client library
// would send.
type rawClient struct {
	conn    net.Conn
	r       *bufio.Reader
	version byte
}

// dialRaw opens a TCP connection to addr.
func dialRaw(t *testing.T, addr string, version byte) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{conn: conn, r: bufio.NewReader(conn), version: version}
}

// connectRaw dials addr and sends CONNECT with the credentials (user ""
// connects without any), failing unless the CONNACK is a success.
func connectRaw(t *testing.T, addr string, version byte, clientID, user string, pass []byte) *rawClient {
	t.Helper()
	c := dialRaw(t, addr, version)
	name := "MQTT"
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: version,
		Connect: packets.ConnectParams{
			ProtocolName: []byte(name), Clean: true, Keepalive: 30, ClientIdentifier: clientID,
			UsernameFlag: user != "", Username: []byte(user), PasswordFlag: pass != nil, Password: pass,
		},
	}
	c.write(t, pk)
	ack := c.read(t)
	if ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("connect %s: got %+v", clientID, ack.FixedHeader)
	}
	return c
}

// write encodes and sends pk.
func (c *rawClient) write(t *testing.T, pk packets.Packet) {
	t.Helper()
	pk.ProtocolVersion = c.version
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	default:
		err = fmt.Errorf("rawClient cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// next reads one packet, with a generous deadline (a liveness bound, not a
// timing assertion); err is io.EOF (or a reset) once the broker closed the
// connection.
func (c *rawClient) next() (packets.Packet, error) {
	c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	var pk packets.Packet
	b, err := c.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		return pk, err
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = c.version
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback, packets.Pubrec:
		err = pk.PubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	}
	return pk, err
}

// read is next, failing the test on an error.
func (c *rawClient) read(t *testing.T) packets.Packet {
	t.Helper()
	pk, err := c.next()
	if err != nil {
		t.Fatalf("reading a packet: %v", err)
	}
	return pk
}

// waitClosed reads until the broker closes the connection, failing if it
// has not within a generous deadline or acknowledges a PUBLISH instead; it
// returns the packets read before the close.
func (c *rawClient) waitClosed(t *testing.T) []packets.Packet {
	t.Helper()
	var got []packets.Packet
	for {
		pk, err := c.next()
		if err == nil {
			if pk.FixedHeader.Type == packets.Puback || pk.FixedHeader.Type == packets.Pubrec {
				// An acknowledgement means the broker took the packet:
				// say so now rather than after the deadline.
				t.Fatalf("the broker acknowledged the packet (type %d, reason %#x) instead of closing the connection", pk.FixedHeader.Type, pk.ReasonCode)
			}
			got = append(got, pk)
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the broker did not close the connection (%d packets read)", len(got))
		}
		return got
	}
}
