package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// liveDevice is a device the test signs for: its key, its counter, and its
// public key in a file for "signet device enroll --key".
type liveDevice struct {
	id, pubPath string
	key         signing.PrivateKey
	kid         []byte
	ctr         atomic.Uint64
}

func newLiveDevice(t *testing.T, dir, id string) *liveDevice {
	t.Helper()
	k, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	d := &liveDevice{id: id, key: k, kid: signing.KeyID(k.Public()), pubPath: filepath.Join(dir, id+".pub.jwk")}
	jwk, err := signing.MarshalPublicJWK(k.Public(), d.kid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.pubPath, jwk, 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *liveDevice) sign(t *testing.T, topic, payload string, iat bool) []byte {
	t.Helper()
	h := signing.Header{KID: d.kid, Counter: d.ctr.Add(1)}
	if iat {
		now := time.Now().Unix()
		h.IssuedAt = &now
	}
	msg, err := signing.Sign(d.key, h, []byte(payload), topic)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// connect logs the device in with a connect token (MQTT 3.1.1); lost
// receives once when the broker drops the connection. An error is returned,
// not fatal: a refused login is what some steps expect.
func (d *liveDevice) connect(t *testing.T, addr string, lost chan<- error) (paho.Client, error) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(d.id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetWriteTimeout(5 * time.Second).
		SetUsername(d.id).SetPassword(string(d.sign(t, broker.ConnectTopic, d.id, true)))
	if lost != nil {
		opts.SetConnectionLostHandler(func(_ paho.Client, err error) { lost <- err })
	}
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer", d.id)
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { cl.Disconnect(100) })
	return cl, nil
}

func publishState(t *testing.T, cl paho.Client, d *liveDevice, level int) {
	t.Helper()
	tp := "city/z1/" + d.id + "/state"
	tok := cl.Publish(tp, 1, false, d.sign(t, tp, `{"on":true,"level":`+strconv.Itoa(level)+`}`, false))
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", tp, tok.Error())
	}
}

// TestRegistryThroughAPI runs the registry commands with --api against a
// running broker over a real store: without --api the held store is one
// error naming --api; a device enrolled through the API logs in and has
// its state accepted at once; revoking it closes its session at once, its
// login is refused and its next message (relayed by its zone's gateway) is
// refused as revoked, while an honest device keeps publishing; list, show,
// export and the online backup work beside the running broker.
func TestRegistryThroughAPI(t *testing.T) {
	const token = "admin-token-for-the-api"
	sum := sha256.Sum256([]byte(token))
	dir := t.TempDir()
	honest := newLiveDevice(t, dir, "sl-2")
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) error {
		pub := honest.key.Public()
		return reg.Enroll(ctx, devices.Device{ID: honest.id, Zone: "z1", Kind: "streetlight",
			Keys: []devices.Key{{KID: honest.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}}})
	})
	const gwPassword = "gateway password for tests"
	gwHash, err := broker.HashPassword(gwPassword)
	if err != nil {
		t.Fatal(err)
	}
	srv := brokertest.Start(t, store, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.Users = []broker.User{
			{Name: "ops", Role: broker.RoleAdmin, TokenSHA256: hex.EncodeToString(sum[:])},
			{Name: "gw", Role: broker.RoleGateway, Zones: []string{"z1"}, PasswordHash: gwHash},
		}
	})
	api := "http://" + srv.HTTPAddr()
	apiArgs := func(args ...string) []string { return append(args, "--api", api, "--token", token) }

	// The store file is the broker's while it runs.
	_, errOut := signet(t, 1, "device", "list", "--db", store)
	if !strings.Contains(errOut, "held by a running broker") || !strings.Contains(errOut, "--api") {
		t.Fatalf("device list on the held store: %q", errOut)
	}
	_, errOut = signet(t, 2, "device", "list", "--db", store, "--api", api, "--token", token)
	if !strings.Contains(errOut, "--db and --api are exclusive") {
		t.Fatalf("--db with --api: %q", errOut)
	}
	_, errOut = signet(t, 2, "device", "list", "--api", api)
	if !strings.Contains(errOut, "--api needs credentials") {
		t.Fatalf("--api without credentials: %q", errOut)
	}
	_, errOut = signet(t, 1, "device", "list", "--api", api, "--token", "wrong")
	if !strings.Contains(errOut, "unknown bearer token (HTTP 401)") {
		t.Fatalf("a wrong token: %q", errOut)
	}

	// Enrolled through the API, the device works at once.
	dev := newLiveDevice(t, dir, "sl-1")
	out, _ := signet(t, 0, apiArgs("device", "enroll", "--id", "sl-1", "--zone", "z1", "--kind", "streetlight", "--key", dev.pubPath)...)
	if !strings.HasPrefix(out, "enrolled device sl-1 (zone z1, streetlight) with key "+signing.FormatKeyID(dev.kid)) {
		t.Fatalf("enroll said %q", out)
	}
	lost := make(chan error, 1)
	victim, err := dev.connect(t, srv.MQTTAddr(), lost)
	if err != nil {
		t.Fatalf("the device enrolled through --api cannot log in: %v", err)
	}
	publishState(t, victim, dev, 11)
	if doc, _ := srv.Edge().Twin("sl-1"); doc.Reported["level"] != 11.0 {
		t.Fatalf("the new device's state was not accepted: %v", doc.Reported)
	}
	hon, err := honest.connect(t, srv.MQTTAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}

	out, _ = signet(t, 0, apiArgs("device", "list")...)
	if !strings.Contains(out, "sl-1  z1    streetlight  1 usable") || !strings.Contains(out, "sl-2") {
		t.Fatalf("list said:\n%s", out)
	}
	if out, _ := signet(t, 0, apiArgs("device", "show", "sl-1")...); !strings.Contains(out, `"kind": "streetlight"`) {
		t.Fatalf("show said:\n%s", out)
	}
	if _, errOut := signet(t, 1, apiArgs("device", "show", "sl-9")...); !strings.Contains(errOut, "device sl-9: no such device") || !strings.Contains(errOut, "HTTP 404") {
		t.Fatalf("show of an unknown device: %q", errOut)
	}

	// Revoked while connected: the session ends at once.
	out, _ = signet(t, 0, apiArgs("device", "revoke", "sl-1")...)
	if out != "revoked device sl-1 (1 key(s)); closed 1 connected session(s)\n" {
		t.Fatalf("revoke said %q", out)
	}
	select {
	case <-lost:
	case <-time.After(20 * time.Second):
		t.Fatal("the revoked device is still connected")
	}
	if _, err := dev.connect(t, srv.MQTTAddr(), nil); err == nil {
		t.Fatal("the revoked device logged in again")
	}
	gw := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + srv.MQTTAddr()).SetClientID("gw-1").SetProtocolVersion(4).
		SetAutoReconnect(false).SetUsername("gw").SetPassword(gwPassword))
	if tok := gw.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("gateway: %v", tok.Error())
	}
	defer gw.Disconnect(100)
	publishState(t, gw, dev, 99)
	if doc, _ := srv.Edge().Twin("sl-1"); doc.Reported["level"] != 11.0 || doc.Security.Rejected["revoked"] == 0 {
		t.Fatalf("the revoked device's message was not refused as revoked: reported %v, rejected %v", doc.Reported, doc.Security.Rejected)
	}
	publishState(t, hon, honest, 22)
	if doc, _ := srv.Edge().Twin("sl-2"); doc.Reported["level"] != 22.0 {
		t.Fatalf("the honest device's state was not accepted: %v", doc.Reported)
	}

	// Export and an online backup, beside the running broker.
	reg := filepath.Join(dir, "registry.json")
	signet(t, 0, apiArgs("device", "export", "--out", reg)...)
	if b, err := os.ReadFile(reg); err != nil || !strings.Contains(string(b), `"sl-1"`) {
		t.Fatalf("export: %v\n%s", err, b)
	}
	backup := filepath.Join(dir, "backups", "b.db")
	out, _ = signet(t, 0, "store", "backup", "--api", api, "--token", token, "--out", backup)
	if !strings.HasPrefix(out, "backed up the broker at "+api+" to "+backup) {
		t.Fatalf("backup said %q", out)
	}
	copyStore, err := boltstore.Open(backup, boltstore.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("the backup is not a store: %v", err)
	}
	defer copyStore.Close()
	if d, err := copyStore.Device(context.Background(), "sl-1"); err != nil || d.Keys[0].Status != devices.StatusRevoked {
		t.Fatalf("the backup's sl-1: %+v, %v", d, err)
	}
	if _, errOut := signet(t, 1, "store", "backup", "--api", api, "--token", token, "--out", backup); !strings.Contains(errOut, "already exists") {
		t.Fatalf("a second backup over the first: %q", errOut)
	}
}
