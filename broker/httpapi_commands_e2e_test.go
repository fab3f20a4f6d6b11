package broker_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

type ctrSeq struct{ n atomic.Uint64 }

func (s *ctrSeq) Next() (uint64, error) { return s.n.Add(1), nil }

// commandAPICity is a broker with the HTTP API, streetlight sl-1 running
// (flashed with the city's authority key) and sl-2 enrolled but offline,
// operators alice (endorsed for set-level on streetlights of z1) and bob,
// and HTTP users for each of them, an admin and a viewer (bearer tokens).
type commandAPICity struct {
	srv      *broker.Server
	api      string
	dev      *runtime.Device
	alice    *command.Operator
	bob      *command.Operator
	verdicts chan signing.Reason // the device's, "" when it acted
}

func startCommandAPICity(t *testing.T, configure ...func(*broker.Config)) *commandAPICity {
	t.Helper()
	dir := t.TempDir()
	c := &commandAPICity{verdicts: make(chan signing.Reason, 16)}
	authority, _ := signing.GenerateKey(signing.AlgEd25519)
	aliceKey, _ := signing.GenerateKey(signing.AlgEd25519)
	bobKey, _ := signing.GenerateKey(signing.AlgEd25519)
	keyOf := func(k signing.PrivateKey) devices.Key {
		p := k.Public()
		return devices.Key{KID: signing.KeyID(p), Alg: p.Alg(), Public: p.Bytes(), Status: devices.StatusActive}
	}
	scope := devices.Scope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{"*"}}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) error {
		var err error
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{{ID: "sl-1", Zone: "z1", Kind: "streetlight"}, {ID: "sl-2", Zone: "z1", Kind: "streetlight"}}, dir, "", &runtime.Stats{})
		if err != nil {
			return err
		}
		if _, err := reg.AddAuthorityKey(ctx, "city", keyOf(authority)); err != nil {
			return err
		}
		if err := reg.EnrollOperator(ctx, devices.Operator{ID: "alice", Keys: []devices.Key{keyOf(aliceKey)}, Scope: scope}); err != nil {
			return err
		}
		return reg.EnrollOperator(ctx, devices.Operator{ID: "bob", Keys: []devices.Key{keyOf(bobKey)}, Scope: scope})
	})
	endorse := func(name string, k signing.PrivateKey) *command.Operator {
		cwt, err := signing.SignEndorsement(authority, signing.KeyID(authority.Public()), 1, k.Public(), signing.EndorsementClaims{
			Operator: name, Scope: signing.CommandScope{Zones: []string{"z1"}, Kinds: []string{"streetlight"}, Commands: []string{"set-level"}},
			IssuedAt: time.Now().Add(-time.Minute), Expires: time.Now().Add(time.Hour),
		})
		if err != nil {
			t.Fatal(err)
		}
		return &command.Operator{Key: k, KID: signing.KeyID(k.Public()), Endorsement: cwt, Counter: &ctrSeq{}}
	}
	c.alice, c.bob = endorse("alice", aliceKey), endorse("bob", bobKey)
	sha := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	c.srv = brokertest.Start(t, store, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.CommandAPI.AckTimeout = time.Second
		cfg.Users = []broker.User{
			{Name: "alice", Role: broker.RoleOperator, Zones: []string{"z1"}, TokenSHA256: sha("alice-token")},
			{Name: "bob", Role: broker.RoleOperator, Zones: []string{"z1"}, TokenSHA256: sha("bob-token")},
			{Name: "root", Role: broker.RoleAdmin, TokenSHA256: sha("admin-token")},
			{Name: "wall", Role: broker.RoleViewer, Zones: []string{"z1"}, TokenSHA256: sha("viewer-token")},
		}
		for _, f := range configure {
			f(cfg)
		}
	})
	c.api = "http://" + c.srv.HTTPAddr()

	c.dev = devs[0]
	auths := command.Authorities{}
	auths.Add(authority.Public(), nil)
	c.dev.Commands = &command.Verifier{Zone: "z1", Device: "sl-1", Kind: "streetlight", Authorities: auths, Boot: time.Now().Add(-time.Minute)}
	c.dev.OnCommand = func(_ string, err error) {
		var r signing.Reason
		if err != nil {
			r = signing.ReasonOf(err)
		}
		c.verdicts <- r
	}
	ready := make(chan struct{}, 4)
	c.dev.OnCommandsReady = func() { ready <- struct{}{} }
	c.dev.Broker = "tcp://" + c.srv.MQTTAddr()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- c.dev.Run(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("device: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-stopped:
		t.Fatalf("device stopped before subscribing to its commands: %v", err)
	}
	return c
}

// sign is op's envelope of set-level (or name) for device in z1.
func (c *commandAPICity) sign(t *testing.T, op *command.Operator, device, name, payload string) (string, string) {
	t.Helper()
	tp, msg, err := op.Sign("z1", device, name, []byte(payload), time.Now(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return tp, base64.StdEncoding.EncodeToString(msg)
}

// post sends body to POST /api/v1/devices/{device}/commands as token.
func (c *commandAPICity) post(t *testing.T, token, device, contentType, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.api+"/api/v1/devices/"+device+"/commands", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func envelopeBody(topic, env string) string {
	b, _ := json.Marshal(map[string]string{"topic": topic, "envelope": env})
	return string(b)
}

// TestCommandOverHTTP: alice's signed set-level, handed to the broker over
// HTTP, is checked like an MQTT command, reaches the device, which acts,
// and the answer is the device's signed ack; with only the command's name
// the topic follows from the device's zone, and an admin may relay it too.
func TestCommandOverHTTP(t *testing.T) {
	c := startCommandAPICity(t)
	tp, env := c.sign(t, c.alice, "sl-1", "set-level", `{"level":40}`)
	code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp, env))
	ack, _ := out["ack"].(map[string]any)
	if code != http.StatusOK || ack["status"] != "done" || ack["cmd"] != "set-level" {
		t.Fatalf("POST: %d %v, want 200 with a done ack", code, out)
	}
	if r := <-c.verdicts; r != "" {
		t.Fatalf("the device refused: %s", r)
	}
	// The ack is the device's own, signed for its ack topic.
	raw, _ := base64.StdEncoding.DecodeString(out["ack_envelope"].(string))
	if e, err := signing.Parse(raw, 0); err != nil || e.Verify(c.dev.Key.Public(), "city/z1/sl-1/ack") != nil {
		t.Fatalf("ack_envelope is not signed by sl-1: %v", err)
	}

	_, env = c.sign(t, c.alice, "sl-1", "set-level", `{"level":30}`)
	code, out = c.post(t, "admin-token", "sl-1", "application/json; charset=utf-8", `{"name":"set-level","envelope":"`+env+`"}`)
	if ack, _ := out["ack"].(map[string]any); code != http.StatusOK || ack["status"] != "done" {
		t.Fatalf("POST by admin with name: %d %v, want 200 done", code, out)
	}
	<-c.verdicts
	// The twin follows the command to the device's ack.
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Meta.Commands["set-level"].Status != twin.StatusDone {
		t.Fatalf("twin meta %v: set-level should be done", doc.Meta)
	}
}

// TestCommandOverHTTPRefusals: what the endpoint refuses, each with its
// status and reason, none reaching the device: another operator relaying
// alice's command, a viewer, a command outside the endorsement, a replay,
// a body that is not JSON, an envelope for another device's topic; a
// command for an offline device is 504. Alice's honest command, sent after
// each, is still done.
func TestCommandOverHTTPRefusals(t *testing.T) {
	c := startCommandAPICity(t)
	honest := func(step string) {
		t.Helper()
		tp, env := c.sign(t, c.alice, "sl-1", "set-level", `{"level":50}`)
		if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp, env)); code != http.StatusOK {
			t.Fatalf("after %s: alice's command: %d %v", step, code, out)
		}
		if r := <-c.verdicts; r != "" {
			t.Fatalf("after %s: the device refused alice's command: %s", step, r)
		}
	}
	tp, env := c.sign(t, c.alice, "sl-1", "set-level", `{"level":40}`)
	replayTopic, replayEnv := tp, env
	steps := []struct {
		name, token, device, ctype, body string
		status                           int
		reason                           string
	}{
		{"bob relays alice's command", "bob-token", "sl-1", "application/json", envelopeBody(tp, env), http.StatusForbidden, "impersonation"},
		{"a viewer", "viewer-token", "sl-1", "application/json", envelopeBody(tp, env), http.StatusForbidden, ""},
		{"not JSON", "alice-token", "sl-1", "text/plain", envelopeBody(tp, env), http.StatusUnsupportedMediaType, ""},
		{"unknown field", "alice-token", "sl-1", "application/json", `{"envelope":"` + env + `","sudo":true}`, http.StatusBadRequest, ""},
		{"another device's topic", "alice-token", "sl-2", "application/json", envelopeBody(tp, env), http.StatusBadRequest, ""},
	}
	outTopic, outEnv := c.sign(t, c.alice, "sl-1", "reboot", `{"level":5}`)
	steps = append(steps, struct {
		name, token, device, ctype, body string
		status                           int
		reason                           string
	}{"outside the endorsement", "alice-token", "sl-1", "application/json", envelopeBody(outTopic, outEnv), http.StatusForbidden, "unauthorized_command"})
	for _, s := range steps {
		code, out := c.post(t, s.token, s.device, s.ctype, s.body)
		if code != s.status || (s.reason != "" && out["reason"] != s.reason) || out["error"] == "" {
			t.Fatalf("%s: %d %v, want %d %s with an error", s.name, code, out, s.status, s.reason)
		}
		honest(s.name)
	}
	// The envelope bob tried to relay was refused before its commit, so
	// alice may still send it herself: once, and never twice.
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(replayTopic, replayEnv)); code != http.StatusOK {
		t.Fatalf("alice's own envelope: %d %v", code, out)
	}
	<-c.verdicts
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(replayTopic, replayEnv)); code != http.StatusForbidden || out["reason"] != "replay" {
		t.Fatalf("replay: %d %v, want 403 replay", code, out)
	}
	honest("replay")

	tp2, env2 := c.sign(t, c.alice, "sl-2", "set-level", `{"level":40}`)
	if code, out := c.post(t, "alice-token", "sl-2", "application/json", envelopeBody(tp2, env2)); code != http.StatusGatewayTimeout {
		t.Fatalf("offline device: %d %v, want 504", code, out)
	}
	honest("offline device")
	if got := c.dev.Stats.CmdDone.Load() + c.dev.Stats.CmdRefused.Load(); got != uint64(len(steps))+3 {
		t.Fatalf("the device saw %d commands, want only alice's %d accepted ones", got, len(steps)+3)
	}
}

// TestCommandOverHTTPMaxWaits: with command_api.max_waits 1, while one
// request waits for an offline device's ack, a second is refused at once
// with 503 and never reaches the broker's checks; once the first has timed
// out (504), alice's next command is done.
func TestCommandOverHTTPMaxWaits(t *testing.T) {
	c := startCommandAPICity(t, func(cfg *broker.Config) {
		cfg.CommandAPI.MaxWaits, cfg.CommandAPI.AckTimeout = 1, 10*time.Second
	})
	tp, env := c.sign(t, c.alice, "sl-2", "set-level", `{"level":40}`)
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, c.api+"/api/v1/devices/sl-2/commands", strings.NewReader(envelopeBody(tp, env)))
		req.Header.Set("Authorization", "Bearer alice-token")
		req.Header.Set("Content-Type", "application/json")
		code := 0
		if resp, err := http.DefaultClient.Do(req); err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		first <- code
	}()
	// The first request holds its slot from before its command was
	// committed until its ack or timeout: wait until the twin shows the
	// command pending.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if doc, ok := c.srv.Edge().Twin("sl-2"); ok && doc.Meta.Commands["set-level"].Status == twin.StatusPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first command never became pending")
		}
		select {
		case code := <-first:
			t.Fatalf("the first request ended with %d before the second was sent", code)
		case <-time.After(20 * time.Millisecond):
		}
	}
	tp2, env2 := c.sign(t, c.alice, "sl-1", "set-level", `{"level":30}`)
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp2, env2)); code != http.StatusServiceUnavailable {
		t.Fatalf("second request: %d %v, want 503", code, out)
	}
	if code := <-first; code != http.StatusGatewayTimeout {
		t.Fatalf("first request: %d, want 504", code)
	}
	// The refused request never reached the checks: its envelope is
	// still good.
	if code, out := c.post(t, "alice-token", "sl-1", "application/json", envelopeBody(tp2, env2)); code != http.StatusOK {
		t.Fatalf("after the wait: %d %v, want 200", code, out)
	}
	if r := <-c.verdicts; r != "" {
		t.Fatalf("the device refused: %s", r)
	}
}
