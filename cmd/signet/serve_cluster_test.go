package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/signing"
)

// TestServeDevCluster: "signet serve --dev --cluster 3" starts three NATS
// nodes and three brokers and prints their ports; a device enrolled in the
// shared registry publishes through broker 1, and a viewer subscribed on
// broker 2 receives its message, while a forged message sent through
// broker 1 reaches nobody.
func TestServeDevCluster(t *testing.T) {
	dir := t.TempDir()
	const password = "cluster-demo-password"
	hash, err := broker.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf("users:\n  - name: wall\n    role: viewer\n    zones: [z1]\n    password_hash: %q\n", hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newServeCmd()
	cmd.SetArgs([]string{"--dev", "--cluster", "3", "--config", cfgPath})
	out, w := io.Pipe()
	cmd.SetOut(w)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		err := cmd.ExecuteContext(ctx)
		w.Close()
		done <- err
	}()
	lines := bufio.NewScanner(out)
	var urls string
	var mqtt []string
	nodes, brokerLine := regexp.MustCompile(`^signet: 3 NATS nodes (\S+)$`), regexp.MustCompile(`^signet: broker \d mqtt (\S+) http \S+$`)
	for len(mqtt) < 3 && lines.Scan() {
		if m := nodes.FindStringSubmatch(lines.Text()); m != nil {
			urls = m[1]
		}
		if m := brokerLine.FindStringSubmatch(lines.Text()); m != nil {
			mqtt = append(mqtt, m[1])
		}
	}
	if urls == "" || len(mqtt) != 3 {
		t.Fatalf("serve --dev --cluster 3 printed nodes %q and %d brokers; exit: %v", urls, len(mqtt), <-done)
	}
	go io.Copy(io.Discard, out)

	key, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	kid := signing.KeyID(key.Public())
	store, err := natsstore.Open(ctx, natsstore.Options{Servers: urls, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := devices.NewRegistry(store, nil).Enroll(ctx, devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{{
		KID: kid, Alg: key.Public().Alg(), Public: key.Public().Bytes(), Status: devices.StatusActive}}}); err != nil {
		t.Fatal(err)
	}

	got := make(chan *paho5.Publish, 16)
	viewer := dial5(t, mqtt[1], "wall-app", "wall", []byte(password), func(p *paho5.Publish) { got <- p })
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if _, err := viewer.Subscribe(sctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: "city/z1/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	var ctr uint64 = 1 << 20
	sign := func(topic string, payload []byte, iat bool) []byte {
		ctr++
		h := signing.Header{KID: kid, Counter: ctr}
		if iat {
			now := time.Now().Unix()
			h.IssuedAt = &now
		}
		m, err := signing.Sign(key, h, payload, topic)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// Broker 1 learns of the enrolment by its registry watch: retry the
	// connect until it is accepted.
	var dev *paho5.Client
	deadline := time.Now().Add(10 * time.Second)
	for dev == nil {
		dev = tryDial5(mqtt[0], "sl-1", "sl-1", sign(broker.ConnectTopic, []byte("sl-1"), true))
		if dev == nil && time.Now().After(deadline) {
			t.Fatal("broker 1 never accepted the device enrolled in the shared registry")
		}
	}
	defer dev.Disconnect(&paho5.Disconnect{})
	const tp = "city/z1/sl-1/tele/power"
	forged := sign(tp, []byte(`{"w":1}`), false)
	forged[len(forged)-1] ^= 1
	honest := sign(tp, []byte(`{"w":2}`), false)
	for i, msg := range [][]byte{forged, honest} {
		resp, err := dev.Publish(sctx, &paho5.Publish{Topic: tp, QoS: 1, Payload: msg})
		if resp == nil || (i == 0) != (resp.ReasonCode == 0x87) {
			t.Fatalf("message %d at broker 1: %+v %v", i, resp, err)
		}
	}
	select {
	case p := <-got:
		// The forged message was sent first: had it crossed, it would
		// have arrived first.
		if p.Topic != tp || string(p.Payload) != string(honest) {
			t.Fatalf("viewer on broker 2 received %s %x, want the honest message", p.Topic, p.Payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer on broker 2 never received the message published through broker 1")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve --dev --cluster 3 exit: %v", err)
	}
}

// tryDial5 connects an MQTT 5 client, or returns nil if the broker refuses.
func tryDial5(addr, id, user string, password []byte) *paho5.Client {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: id})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true, Username: user, Password: password})
	if err != nil || ack.ReasonCode != 0 {
		conn.Close()
		return nil
	}
	return cl
}

// dial5 connects an MQTT 5 client that hands what it receives to recv.
func dial5(t *testing.T, addr, id, user string, password []byte, recv func(*paho5.Publish)) *paho5.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: id, OnPublishReceived: []func(paho5.PublishReceived) (bool, error){
		func(r paho5.PublishReceived) (bool, error) { recv(r.Packet); return true, nil }}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true, Username: user, Password: password})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connect %s to %s: %v %+v", user, addr, err, ack)
	}
	t.Cleanup(func() { cl.Disconnect(&paho5.Disconnect{}) })
	return cl
}
