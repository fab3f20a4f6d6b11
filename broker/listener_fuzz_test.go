package broker_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	pk5 "github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	pk3 "github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// honestEvery is how many fuzz inputs pass between two honest sessions.
const honestEvery = 16

// FuzzMQTTPacketsThroughListener writes each input as raw bytes on a new
// TCP connection to one real broker (started once per fuzz process) and
// half-closes it, so the broker reads all of it and ends the session. The
// broker must not panic (a panic in any of its goroutines ends the fuzz
// process), and every honestEvery inputs an honest device must still log
// in with its connect token and have a signed message accepted (PUBACK
// 0x00, MQTT 5 §3.4.2.1): a packet that wedged the listener, leaked its
// sessions or poisoned a shared structure is seen there.
func FuzzMQTTPacketsThroughListener(f *testing.F) {
	dir := f.TempDir()
	honest := newDevice(f, "sl-1", "z1", "streetlight", signing.AlgEd25519)
	store := brokertest.NewStore(f, dir, func(ctx context.Context, reg *devices.Registry) error {
		pub := honest.key.Public()
		return reg.Enroll(ctx, devices.Device{ID: honest.id, Zone: honest.zone, Kind: honest.kind, Keys: []devices.Key{{
			KID: honest.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}})
	})
	// The honest device logs in and publishes every honestEvery inputs, as
	// fast as the fuzzer runs (thousands of inputs a second): far over the
	// default 200 messages a second per identity, which refused it as
	// rate_limited, rightly. Its own rate is not what this target checks.
	srv := brokertest.Start(f, store, func(c *broker.Config) { c.RatePerClient, c.RateBurst = 1e6, 1e6 })
	addr := srv.MQTTAddr()

	for _, seed := range mqttSeeds(f, honest) {
		f.Add(seed)
	}
	inputs := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := writeRaw(addr, data); err != nil {
			t.Fatalf("input %x: %v", data, err)
		}
		inputs++
		if inputs%honestEvery == 1 {
			honestSession(t, addr, honest, srv)
		}
	})
}

// writeRaw sends data on a fresh connection, half-closes it and reads
// whatever the broker answers until it closes the connection. The read
// deadline only bounds a broker that would never close it (a failure).
func writeRaw(addr string, data []byte) error {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(data); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		return err
	}
	conn.(*net.TCPConn).CloseWrite()
	_, err = io.Copy(io.Discard, conn)
	if err != nil && !isReset(err) {
		return err // a timeout: the broker kept a half-closed session open
	}
	return nil
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// honestSession logs the honest device in over MQTT 5 and publishes one
// signed state message, which must be accepted.
func honestSession(t *testing.T, addr string, d *device, srv *broker.Server) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: d.id})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: d.id, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: d.id, PasswordFlag: true, Password: d.token(t, d.id)})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("honest device could not connect after fuzz input: %v %+v", err, ack)
	}
	topic := "city/z1/sl-1/state"
	resp, err := cl.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: d.sign(t, topic, []byte(`{"on":true,"level":40}`))})
	if err != nil || resp == nil || resp.ReasonCode != 0 {
		t.Fatalf("honest device's signed state refused after fuzz input: %v %+v; the broker's last events: %+v", err, resp, srv.Events().Recent(5))
	}
	cl.Disconnect(&paho5.Disconnect{})
}

// mqttSeeds are real packets as the Eclipse clients write them: MQTT 5
// (paho.golang) and 3.1.1 (paho.mqtt.golang) CONNECTs with a device's
// connect token, signed PUBLISHes at QoS 0 and 1, SUBSCRIBE, PINGREQ,
// DISCONNECT, whole sessions, and cut-off halves.
func mqttSeeds(f *testing.F, d *device) [][]byte {
	v5 := func(cp *pk5.ControlPacket) []byte {
		var b bytes.Buffer
		if _, err := cp.WriteTo(&b); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	v3 := func(cp pk3.ControlPacket) []byte {
		var b bytes.Buffer
		if err := cp.Write(&b); err != nil {
			f.Fatal(err)
		}
		return b.Bytes()
	}
	topic := "city/z1/sl-1/state"
	msg := d.sign(f, topic, []byte(`{"on":true,"level":40}`))

	c5 := pk5.NewControlPacket(pk5.CONNECT)
	*c5.Content.(*pk5.Connect) = pk5.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, ClientID: d.id, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: d.id, PasswordFlag: true, Password: d.token(f, d.id), Properties: &pk5.Properties{}}
	p5 := pk5.NewControlPacket(pk5.PUBLISH)
	*p5.Content.(*pk5.Publish) = pk5.Publish{Topic: topic, QoS: 1, PacketID: 1, Payload: msg, Properties: &pk5.Properties{}}
	s5 := pk5.NewControlPacket(pk5.SUBSCRIBE)
	*s5.Content.(*pk5.Subscribe) = pk5.Subscribe{PacketID: 2, Subscriptions: []pk5.SubOptions{{Topic: "$twin/z1/+/reported", QoS: 1}}, Properties: &pk5.Properties{}}
	ping5 := v5(pk5.NewControlPacket(pk5.PINGREQ))
	disc5 := pk5.NewControlPacket(pk5.DISCONNECT)
	disc5.Content.(*pk5.Disconnect).Properties = &pk5.Properties{}

	c3 := pk3.NewControlPacket(pk3.Connect).(*pk3.ConnectPacket)
	c3.ProtocolName, c3.ProtocolVersion, c3.ClientIdentifier, c3.CleanSession, c3.Keepalive = "MQTT", 4, d.id, true, 30
	c3.UsernameFlag, c3.Username, c3.PasswordFlag, c3.Password = true, d.id, true, d.token(f, d.id)
	p3 := pk3.NewControlPacket(pk3.Publish).(*pk3.PublishPacket)
	p3.TopicName, p3.Qos, p3.MessageID, p3.Payload = topic, 1, 1, d.sign(f, topic, []byte(`{"level":10}`))
	q3 := pk3.NewControlPacket(pk3.Publish).(*pk3.PublishPacket)
	q3.TopicName, q3.Payload = "city/z1/sl-1/tele/power", d.sign(f, "city/z1/sl-1/tele/power", []byte(`{"power_w":36}`))
	ping3 := v3(pk3.NewControlPacket(pk3.Pingreq))

	connect5, publish5, connect3 := v5(c5), v5(p5), v3(c3)
	seeds := [][]byte{
		connect5,
		bytes.Join([][]byte{connect5, publish5, v5(s5), ping5, v5(disc5)}, nil),
		bytes.Join([][]byte{connect3, v3(p3), v3(q3), ping3, v3(pk3.NewControlPacket(pk3.Disconnect))}, nil),
		connect3,
		publish5, // a PUBLISH before any CONNECT
		connect5[:len(connect5)/2],
		append(append([]byte{}, connect5...), publish5[:len(publish5)/2]...),
		{0x10, 0xff, 0xff, 0xff, 0x7f}, // the longest remaining length, then nothing
		{0x10, 0xff, 0xff, 0xff, 0xff, 0x01},
		{0x30, 0x00},
		ping3,
	}
	return seeds
}
