package broker_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/signing"
)

// gatewayMessage is one message a gateway sends, and whether it must pass.
type gatewayMessage struct {
	topic   string
	qos     byte
	payload []byte
	good    bool
}

// gatewayStream builds n messages for the devices of zone z1, a gateway's
// zone: mostly good telemetry and state, with tampered signatures and
// replays among them, at QoS 0, 1 and 2.
func gatewayStream(t *testing.T, c *city, n int) []gatewayMessage {
	t.Helper()
	devs := []*device{c.devs["sl-1"], c.devs["sl-2"], c.devs["sl-3"]}
	var out []gatewayMessage
	var last []byte
	for i := range n {
		d := devs[i%len(devs)]
		m := gatewayMessage{qos: byte(i % 3), good: true}
		switch {
		case i%7 == 3:
			m.topic = fmt.Sprintf("city/z1/%s/state", d.id)
			m.payload = d.sign(t, m.topic, []byte(`{"level":1}`))
			m.payload[len(m.payload)-1] ^= 1
			m.good = false
		case i%11 == 5 && last != nil:
			m.topic, m.payload, m.good = "city/z1/sl-1/tele/power", last, false // a replay
		case i%2 == 0:
			m.topic = fmt.Sprintf("city/z1/%s/state", d.id)
			m.payload = d.sign(t, m.topic, fmt.Appendf(nil, `{"level":%d}`, i%100))
		default:
			m.topic = fmt.Sprintf("city/z1/%s/tele/power", d.id)
			m.payload = d.sign(t, m.topic, fmt.Appendf(nil, `{"w":%d}`, i))
			if d.id == "sl-1" {
				last = m.payload
			}
		}
		out = append(out, m)
	}
	return out
}

// TestGatewayMessagesKeepTheirOrder: a gateway's messages are checked
// several at a time (off mochi's reader), yet subscribers get the good ones
// in the order the gateway sent them, every bad one yields its event in
// that order and reaches nobody, and each twin ends at its last good state.
func TestGatewayMessagesKeepTheirOrder(t *testing.T) {
	// Every bad message's own event is the point here, so the gateway's
	// event budget must cover the stream (past it, events are aggregated).
	c := startCity(t, func(cfg *broker.Config) { cfg.AuditLimits.Burst = 1000 })
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	gw := c.connect(t, "gw-1", "gw")

	stream := gatewayStream(t, c, 150)
	var toks []paho.Token
	for _, m := range stream {
		toks = append(toks, gw.Publish(m.topic, m.qos, false, m.payload)) // no waiting in between
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	lastLevel := map[string]float64{}
	for i, m := range stream {
		if !m.good {
			ev := nextEvent(t, events)
			if ev.Topic != m.topic || ev.Client != "gw-1" {
				t.Fatalf("message %d: event %s on %s from %s, want one on %s from gw-1", i, ev.Reason, ev.Topic, ev.Client, m.topic)
			}
			continue
		}
		got := city.next(t)
		if got.Topic() != m.topic || string(got.Payload()) != string(m.payload) {
			t.Fatalf("message %d: subscriber got %s, want %s: out of order, lost or altered", i, got.Topic(), m.topic)
		}
		var body map[string]float64
		if err := json.Unmarshal(m.payloadBody(t), &body); err == nil {
			if lv, ok := body["level"]; ok {
				lastLevel[m.deviceID()] = lv
			}
		}
	}
	// A sentinel: anything leaked or duplicated would have arrived first.
	ok := c.devs["sl-2"].sign(t, "city/z1/sl-2/tele/power", []byte(`{"w":0}`))
	publish(t, gw, "city/z1/sl-2/tele/power", 1, ok)
	if m := city.next(t); string(m.Payload()) != string(ok) {
		t.Fatalf("an extra message reached the subscriber: %s", m.Topic())
	}
	for id, lv := range lastLevel {
		doc, found := c.srv.Edge().Twin(id)
		if !found || doc.Reported["level"] != lv {
			t.Errorf("twin %s: reported level %v, want %v (its last good state message)", id, doc.Reported["level"], lv)
		}
	}
	if len(lastLevel) != 3 {
		t.Fatalf("the stream set the level of %d devices, want 3", len(lastLevel))
	}
}

// payloadBody is the signed payload inside m's envelope.
func (m gatewayMessage) payloadBody(t *testing.T) []byte {
	t.Helper()
	env, err := signing.Parse(m.payload, 0)
	if err != nil {
		t.Fatal(err)
	}
	return env.Payload
}

// deviceID is the device of m's topic (city/zone/device/...).
func (m gatewayMessage) deviceID() string { return strings.Split(m.topic, "/")[2] }

// TestGatewayPubacksInOrder: PUBACKs go out in the order of the PUBLISHes
// (MQTT 3.1.1 §4.6), refused messages included, though a gateway's
// messages are checked several at a time. It speaks MQTT on a bare socket to
// see the acknowledgements in the order they are written.
func TestGatewayPubacksInOrder(t *testing.T) {
	c := startCity(t, nil)
	conn, err := net.Dial("tcp", c.srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a liveness bound
	r := bufio.NewReader(conn)

	// CONNECT (MQTT 3.1.1 §3.1): clean session, username and password.
	var body []byte
	body = appendMQTTString(body, "MQTT")
	body = append(body, 4, 0xC2, 0, 30)
	body = appendMQTTString(body, "gw-raw")
	body = appendMQTTString(body, "gw")
	body = appendMQTTString(body, testPassword)
	if _, err := conn.Write(mqttPacket(0x10, body)); err != nil {
		t.Fatal(err)
	}
	if typ, b := readMQTT(t, r); typ != 0x20 || len(b) != 2 || b[1] != 0 {
		t.Fatalf("CONNACK: type %#x body %x", typ, b)
	}

	stream := gatewayStream(t, c, 90)
	var out []byte
	for i, m := range stream {
		var pub []byte
		pub = appendMQTTString(pub, m.topic)
		pub = binary.BigEndian.AppendUint16(pub, uint16(i+1))
		out = append(out, mqttPacket(0x32, append(pub, m.payload...))...) // QoS 1
	}
	if _, err := conn.Write(out); err != nil { // all at once
		t.Fatal(err)
	}
	for i := range stream {
		typ, b := readMQTT(t, r)
		if typ != 0x40 || len(b) != 2 {
			t.Fatalf("packet %d: type %#x body %x, want a PUBACK", i, typ, b)
		}
		if id := binary.BigEndian.Uint16(b); id != uint16(i+1) {
			t.Fatalf("PUBACK %d is for packet %d, want %d: out of order", i, id, i+1)
		}
	}
}

func appendMQTTString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// mqttPacket frames body with the fixed header (MQTT 3.1.1 §2.2).
func mqttPacket(first byte, body []byte) []byte {
	out := []byte{first}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, body...)
}

// readMQTT reads one packet: its type nibble (as the high bits) and body.
func readMQTT(t *testing.T, r *bufio.Reader) (byte, []byte) {
	t.Helper()
	first, err := r.ReadByte()
	if err != nil {
		t.Fatalf("reading a packet: %v", err)
	}
	n, mul := 0, 1
	for {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading a packet length: %v", err)
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("reading a packet body: %v", err)
	}
	return first & 0xF0, body
}
