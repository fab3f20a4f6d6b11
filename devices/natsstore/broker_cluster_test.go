package natsstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
	"github.com/signet-city/signet/signing"
)

// waitTimeout bounds every wait on a condition in these tests: generous,
// because the machine running them may be loaded; the design target for a
// registry change to reach every broker is well under a second.
const waitTimeout = 30 * time.Second

// leaseBlock is the brokers' lease_block in these tests; devices skip 2·B
// on reconnect, as the simulated firmware does (docs/counters.md).
const leaseBlock = 1024

// device is a simulated device: its key and counter.
type device struct {
	id, zone string
	key      signing.PrivateKey
	kid      []byte
	ctr      atomic.Uint64
}

func newDevice(t *testing.T, id string) *device {
	t.Helper()
	k, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	return &device{id: id, zone: "z1", key: k, kid: signing.KeyID(k.Public())}
}

func (d *device) record() devices.Device {
	pub := d.key.Public()
	return devices.Device{ID: d.id, Zone: d.zone, Kind: "streetlight", Keys: []devices.Key{{
		KID: d.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
	}}}
}

func (d *device) sign(t *testing.T, topic string, payload []byte) []byte {
	t.Helper()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1)}, payload, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// connect opens an MQTT 5 session of d on srv with a fresh connect token,
// after skipping 2·B counters as firmware does on every connect.
func (d *device) connect(t *testing.T, srv *broker.Server) *paho5.Client {
	t.Helper()
	d.ctr.Add(2 * leaseBlock)
	now := time.Now().Unix()
	token, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1), IssuedAt: &now}, []byte(d.id), broker.ConnectTopic)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.MQTTAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: d.id})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: d.id, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, PasswordFlag: true, Username: d.id, Password: token})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect %s: %v %+v", d.id, err, ack)
	}
	return cl
}

// publish sends msg at QoS 1 and returns the PUBACK's reason code (0:
// accepted, 0x87: refused, SPEC §4).
func publish(t *testing.T, cl *paho5.Client, topic string, msg []byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// paho returns an error beside a PUBACK with a failure reason code.
	resp, err := cl.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: msg})
	if resp == nil {
		t.Fatalf("publish %s: no PUBACK: %v", topic, err)
	}
	return resp.ReasonCode
}

func disconnect(cl *paho5.Client) {
	cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
}

// district is a real 3-node JetStream cluster and two Signet brokers on it,
// replicas 3.
type district struct {
	a, b           *broker.Server
	storeA, storeB *natsstore.Store // for enrolling as an operator would through a broker
	urls           string           // every node, for reading the streams
	cluster        *natstest.Cluster
}

func startDistrict(t *testing.T, enrolled ...*device) *district {
	t.Helper()
	return startDistrictWith(t, nil, enrolled...)
}

// startDistrictWith is startDistrict with configure applied to both
// brokers' config.
func startDistrictWith(t *testing.T, configure func(*broker.Config), enrolled ...*device) *district {
	t.Helper()
	c := natstest.StartCluster(t, 3)
	ctx := context.Background()
	reg := devices.NewRegistry(openOn(t, c.URLs(), 3), nil)
	for _, d := range enrolled {
		if err := reg.Enroll(ctx, d.record()); err != nil {
			t.Fatal(err)
		}
	}
	dist := &district{urls: c.URLs(), cluster: c}
	start := func(url string) (*broker.Server, *natsstore.Store) {
		store, err := natsstore.Open(ctx, natsstore.Options{Servers: url, Replicas: 3})
		if err != nil {
			t.Fatal(err)
		}
		cfg := broker.DefaultConfig()
		cfg.Store, cfg.MQTT, cfg.HTTP, cfg.LeaseBlock = url, "127.0.0.1:0", "", leaseBlock
		if configure != nil {
			configure(&cfg)
		}
		srv, err := broker.NewWithStore(ctx, cfg, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		return srv, store
	}
	// Each broker knows every node (and picks one at random), so that it
	// can move to another when its node is lost.
	dist.a, dist.storeA = start(c.URLs())
	dist.b, dist.storeB = start(c.URLs())
	return dist
}

// waitUntil waits for cond, failing the test after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		<-tick.C
	}
}

// TestReplayRefusedAtTheOtherBroker: a device publishes through broker A,
// then reconnects to broker B, and every one of its earlier messages
// replayed at B is refused, and at A too; the device's own new messages
// are accepted at B and back at A, and another device publishing through B
// meanwhile is never refused.
func TestReplayRefusedAtTheOtherBroker(t *testing.T) {
	dev, other := newDevice(t, "sl-1"), newDevice(t, "sl-2")
	d := startDistrict(t, dev, other)
	const tp = "city/z1/sl-1/tele/power"

	atA := dev.connect(t, d.a)
	var earlier [][]byte
	for range 5 {
		msg := dev.sign(t, tp, []byte(`{"w":40}`))
		if rc := publish(t, atA, tp, msg); rc != 0 {
			t.Fatalf("honest message at A: reason %#x", rc)
		}
		earlier = append(earlier, msg)
	}
	disconnect(atA)

	honest := other.connect(t, d.b)
	atB := dev.connect(t, d.b)
	for i, msg := range earlier {
		if rc := publish(t, atB, tp, msg); rc != 0x87 {
			t.Fatalf("replay %d of a message A accepted, at B: reason %#x, want 0x87", i, rc)
		}
		if rc := publish(t, honest, "city/z1/sl-2/tele/power", other.sign(t, "city/z1/sl-2/tele/power", []byte(`{"w":1}`))); rc != 0 {
			t.Fatalf("honest device at B during the replays: reason %#x", rc)
		}
	}
	if rc := publish(t, atB, tp, dev.sign(t, tp, []byte(`{"w":41}`))); rc != 0 {
		t.Fatalf("the device's new message at B: reason %#x", rc)
	}
	disconnect(atB)

	backAtA := dev.connect(t, d.a)
	for i, msg := range earlier {
		if rc := publish(t, backAtA, tp, msg); rc != 0x87 {
			t.Fatalf("replay %d at A again: reason %#x, want 0x87", i, rc)
		}
	}
	if rc := publish(t, backAtA, tp, dev.sign(t, tp, []byte(`{"w":42}`))); rc != 0 {
		t.Fatalf("the device's new message back at A: reason %#x", rc)
	}
	// Both brokers' refusals are security events in SIGNET_EVENTS, for any
	// NATS client to read: one per replay.
	var replays int
	waitUntil(t, "every refused replay in SIGNET_EVENTS", func() bool {
		replays = 0
		for _, m := range streamMessages(t, d.urls, natsstore.EventsStream, natsstore.EventsSubject) {
			var ev audit.Event
			if err := json.Unmarshal(m, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Reason == string(signing.ReasonReplay) && ev.Topic == tp {
				replays++
			}
		}
		return replays >= 2*len(earlier)
	})
	if replays != 2*len(earlier) {
		t.Fatalf("SIGNET_EVENTS holds %d replay events, want %d", replays, 2*len(earlier))
	}
}

// TestRegistryChangesReachTheOtherBroker: a device enrolled through broker
// A's store is accepted at broker B once B has learnt of it (by the
// registry watch, no restart), and its revocation through A is enforced at
// B; a device enrolled from the start keeps publishing through B all along.
func TestRegistryChangesReachTheOtherBroker(t *testing.T) {
	honestDev, late := newDevice(t, "sl-1"), newDevice(t, "sl-9")
	d := startDistrict(t, honestDev)
	ctx := context.Background()
	honest := honestDev.connect(t, d.b)
	honestOK := func(when string) {
		t.Helper()
		const tp = "city/z1/sl-1/tele/power"
		if rc := publish(t, honest, tp, honestDev.sign(t, tp, []byte(`{"w":1}`))); rc != 0 {
			t.Fatalf("honest device at B %s: reason %#x", when, rc)
		}
	}
	honestOK("before the enrolment")

	if err := devices.NewRegistry(d.storeA, nil).Enroll(ctx, late.record()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "B knows the device enrolled through A", func() bool {
		_, ok := d.b.Edge().KeyByKID(late.kid)
		return ok
	})
	cl := late.connect(t, d.b)
	const tp = "city/z1/sl-9/tele/power"
	if rc := publish(t, cl, tp, late.sign(t, tp, []byte(`{"w":2}`))); rc != 0 {
		t.Fatalf("device enrolled through A, at B: reason %#x", rc)
	}
	honestOK("after the enrolment")

	if _, err := devices.NewRegistry(d.storeA, nil).RevokeDevice(ctx, late.id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "B knows of the revocation through A", func() bool {
		k, ok := d.b.Edge().KeyByKID(late.kid)
		return ok && !k.Usable(time.Now())
	})
	if rc := publish(t, cl, tp, late.sign(t, tp, []byte(`{"w":3}`))); rc != 0x87 {
		t.Fatalf("revoked device at B: reason %#x, want 0x87", rc)
	}
	honestOK("after the revocation")
}

// TestSimultaneousReplayAcceptedAtMostOnce: the same signed message sent to
// broker A and broker B at the same moment, round after round, with the
// device's counter sometimes jumping past a lease so that the brokers race
// for the next one, is accepted at most once across both; another device
// publishing through A meanwhile is never refused.
func TestSimultaneousReplayAcceptedAtMostOnce(t *testing.T) {
	dev, other := newDevice(t, "sl-1"), newDevice(t, "sl-2")
	d := startDistrict(t, dev, other)
	atA, atB := dev.connect(t, d.a), dev.connect(t, d.b)
	honest := other.connect(t, d.a)
	const tp = "city/z1/sl-1/tele/power"
	accepted := 0
	for round := range 40 {
		if round%4 == 0 {
			dev.ctr.Add(leaseBlock) // past any lease either broker holds
		}
		msg := dev.sign(t, tp, []byte(`{"w":5}`))
		codes := make(chan byte, 2)
		start := make(chan struct{})
		for _, cl := range []*paho5.Client{atA, atB} {
			go func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
				defer cancel()
				resp, _ := cl.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: msg})
				if resp == nil {
					codes <- 0xff
					return
				}
				codes <- resp.ReasonCode
			}()
		}
		close(start)
		n := 0
		for range 2 {
			switch rc := <-codes; rc {
			case 0:
				n++
			case 0x87:
			default:
				t.Fatalf("round %d: PUBACK %#x, want 0 or 0x87", round, rc)
			}
		}
		if n > 1 {
			t.Fatalf("round %d: one message accepted by both brokers", round)
		}
		accepted += n
		if rc := publish(t, honest, "city/z1/sl-2/tele/power", other.sign(t, "city/z1/sl-2/tele/power", []byte(`{"w":1}`))); rc != 0 {
			t.Fatalf("round %d: honest device at A: reason %#x", round, rc)
		}
	}
	t.Logf("%d of 40 messages accepted once, the rest refused at both", accepted)
}

// TestNATSNodeLostUnderLoad: a device changes its state through broker A,
// message after message, while the NATS node leading the twins' stream is
// shut down. Every state change is acknowledged (those in flight wait for
// the new leader), none acknowledged is lost (the stored twin holds the
// last one and counts every one), and both brokers go on: another device
// publishes through B after the loss.
func TestNATSNodeLostUnderLoad(t *testing.T) {
	dev, other := newDevice(t, "sl-1"), newDevice(t, "sl-2")
	d := startDistrict(t, dev, other)
	cl := dev.connect(t, d.a)
	const tp = "city/z1/sl-1/state"
	const total, killAt = 40, 15
	var lost *server.Server
	for i := range total {
		if i == killAt {
			for _, s := range d.cluster.Servers {
				if s.JetStreamIsStreamLeader("$G", "KV_"+natsstore.TwinsBucket) {
					lost = s
				}
			}
			if lost == nil {
				t.Fatal("no node leads the twins' stream")
			}
			lost.Shutdown()
		}
		msg := dev.sign(t, tp, []byte(fmt.Sprintf(`{"on":true,"level":%d}`, i)))
		if rc := publish(t, cl, tp, msg); rc != 0 {
			t.Fatalf("state change %d (node lost after %d): reason %#x", i, killAt, rc)
		}
	}
	var live []string
	for _, s := range d.cluster.Servers {
		if s != lost {
			live = append(live, s.ClientURL())
		}
	}
	snap, err := openOn(t, strings.Join(live, ","), 3).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var tw struct {
		Version  uint64         `json:"version"`
		Reported map[string]any `json:"reported"`
	}
	for _, x := range snap.Twins {
		if x.Device == "sl-1" {
			if err := json.Unmarshal(x.Doc, &tw); err != nil {
				t.Fatal(err)
			}
		}
	}
	if tw.Version != total || tw.Reported["level"] != float64(total-1) {
		t.Fatalf("stored twin after the node loss: version %d, level %v; want version %d, level %d", tw.Version, tw.Reported["level"], total, total-1)
	}
	honest := other.connect(t, d.b)
	if rc := publish(t, honest, "city/z1/sl-2/tele/power", other.sign(t, "city/z1/sl-2/tele/power", []byte(`{"w":1}`))); rc != 0 {
		t.Fatalf("device at B after the node loss: reason %#x", rc)
	}
}
