package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// TestSIGHUPReloadsLimits runs a real "signet serve --config" and changes
// its limits with SIGHUP, with real MQTT clients on both sides:
//   - max_message_bytes lowered: a signed message the old limit let through
//     is refused, while a small one from the same device still arrives;
//   - clients.max_sessions_per_identity lowered: a third anonymous session
//     is refused while the two already connected keep working;
//   - a config that also changes connections.topic_alias_maximum (read by
//     mochi at start) is refused naming that key, and the broker keeps the
//     lowered limits and keeps serving.
func TestSIGHUPReloadsLimits(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dev := enrolledDevice(t, filepath.Join(dir, "s.db"))
	hash, err := broker.HashPassword("reload-admin-pw")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "signet.yaml")
	writeConfig := func(extra string) {
		t.Helper()
		cfg := fmt.Sprintf("store: %s\nmqtt: 127.0.0.1:0\nhttp: \"\"\nallow_anonymous: true\nusers:\n  - name: admin\n    role: admin\n    zones: [\"*\"]\n    password_hash: %q\n%s",
			filepath.Join(dir, "s.db"), hash, extra)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("")
	srv := startServe(t, bin, cfgPath)
	addr := regexp.MustCompile(`mqtt (127\.0\.0\.1:\d+)`).FindStringSubmatch(srv.waitLine(t, "signet: listening on"))
	if addr == nil {
		t.Fatal("no MQTT address in the startup line")
	}
	mqttURL := "tcp://" + addr[1]

	admin := mqttConnect(t, mqttURL, "ops", "admin", "reload-admin-pw")
	got := make(chan paho.Message, 16)
	if tok := admin.Subscribe("city/#", 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	device := mqttConnect(t, mqttURL, dev.id, dev.id, string(dev.connectToken(t)))
	const tp = "city/z1/sl-1/tele/power"
	big := func() []byte { return dev.sign(t, tp, []byte(`{"w":40,"pad":"`+strings.Repeat("x", 2000)+`"}`)) }
	small := func() []byte { return dev.sign(t, tp, []byte(`{"w":41}`)) }
	next := func() []byte {
		t.Helper()
		select {
		case m := <-got:
			return m.Payload()
		case <-time.After(20 * time.Second):
			t.Fatal("no message reached the subscriber")
			return nil
		}
	}
	publish := func(payload []byte) {
		t.Helper()
		if tok := device.Publish(tp, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	msg := big()
	if len(msg) <= 1024 {
		t.Fatalf("the big message is %d bytes; the test needs more than the lowered limit", len(msg))
	}
	publish(msg)
	if p := next(); string(p) != string(msg) {
		t.Fatal("the big message did not reach the subscriber under the default limit")
	}
	anon1 := mqttConnect(t, mqttURL, "anon-1", "", "")
	anon2 := mqttConnect(t, mqttURL, "anon-2", "", "")

	writeConfig("max_message_bytes: 1024\nclients: {max_sessions_per_identity: 2}\n")
	srv.hup(t)
	if l := srv.waitLine(t, "signet: SIGHUP:"); !strings.Contains(l, "reloaded") {
		t.Fatalf("after SIGHUP: %q, want the config reloaded", l)
	}
	// Same device, same connection, in order: the big one must be dropped
	// and the small one after it delivered.
	publish(big())
	ok := small()
	publish(ok)
	if p := next(); string(p) != string(ok) {
		t.Fatalf("after max_message_bytes 1024 the subscriber got a %d-byte message, want the small one (the big one refused)", len(p))
	}
	// The session quota: anonymous clients share one allowance, now 2.
	opts := paho.NewClientOptions().AddBroker(mqttURL).SetClientID("anon-3").SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4)
	if tok := paho.NewClient(opts).Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		t.Fatal("a third anonymous session was accepted over max_sessions_per_identity 2")
	}
	mqttEcho(t, anon1, anon2, "lobby/after-reload")

	// A key only a restart can change: the whole file is refused, the
	// lowered limits stay.
	writeConfig("max_message_bytes: 0\nclients: {max_sessions_per_identity: 2}\nconnections: {topic_alias_maximum: 8}\n")
	srv.hup(t)
	if l := srv.waitLine(t, "signet: SIGHUP:"); strings.Contains(l, "reloaded") || !strings.Contains(l, "connections.topic_alias_maximum") || !strings.Contains(l, "restart") {
		t.Fatalf("a config changing topic_alias_maximum on SIGHUP: %q, want it refused naming the key and the restart", l)
	}
	publish(big())
	ok = small()
	publish(ok)
	if p := next(); string(p) != string(ok) {
		t.Fatalf("after a refused reload the subscriber got a %d-byte message, want the small one (max_message_bytes 1024 kept)", len(p))
	}
	mqttEcho(t, anon1, anon2, "lobby/after-refusal")
}

// serveProcess is a running "signet serve" and the lines of its output.
type serveProcess struct {
	cmd   *exec.Cmd
	lines chan string
}

// startServe runs bin serve --config cfgPath until the test ends.
func startServe(t *testing.T, bin, cfgPath string) *serveProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	p := &serveProcess{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p
}

// waitLine returns the next line starting with prefix.
func (p *serveProcess) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("serve exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q from serve", prefix)
		}
	}
}

func (p *serveProcess) hup(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// testDevice is a device enrolled in a test store, with its private key.
type testDevice struct {
	id  string
	key signing.PrivateKey
	kid []byte
	ctr atomic.Uint64
}

// enrolledDevice makes the store at path with streetlight sl-1 in zone z1.
func enrolledDevice(t *testing.T, path string) *testDevice {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	d := &testDevice{id: "sl-1", key: priv, kid: signing.KeyID(pub)}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := devices.Key{KID: d.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}
	if err := devices.NewRegistry(s, time.Now).Enroll(context.Background(), devices.Device{ID: d.id, Zone: "z1", Kind: "streetlight", Keys: []devices.Key{key}}); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *testDevice) sign(t *testing.T, topic string, payload []byte) []byte {
	t.Helper()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1)}, payload, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// connectToken is the device's MQTT password: its client id, signed.
func (d *testDevice) connectToken(t *testing.T) []byte {
	t.Helper()
	now := time.Now().Unix()
	msg, err := signing.Sign(d.key, signing.Header{KID: d.kid, Counter: d.ctr.Add(1), IssuedAt: &now}, []byte(d.id), broker.ConnectTopic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// mqttConnect connects an MQTT 3.1.1 client (user "": anonymous) or fails the test.
func mqttConnect(t *testing.T, url, clientID, user, pass string) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetOrderMatters(true).SetWriteTimeout(5 * time.Second)
	if user != "" {
		opts.SetUsername(user).SetPassword(pass)
	}
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", clientID, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl
}

// mqttEcho checks that a message from one client reaches the other on an
// ordinary topic: both sessions still work.
func mqttEcho(t *testing.T, from, to paho.Client, topic string) {
	t.Helper()
	got := make(chan string, 1)
	if tok := to.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	if tok := from.Publish(topic, 1, false, "still here"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
	select {
	case p := <-got:
		if p != "still here" {
			t.Fatalf("%s: got %q", topic, p)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no message on %s: the connected sessions stopped working", topic)
	}
}
