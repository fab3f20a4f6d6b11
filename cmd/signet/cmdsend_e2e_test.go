package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// commandCity is a real broker over a store holding streetlight sl-1 in
// zone z1, the control authority made with "signet authority init", and
// operator alice, whose key "signet operator endorse" endorsed for
// set-level on streetlights of z1; the device runs, flashed with the
// authority's public key.
type commandCity struct {
	dir, mqtt, api string
	srv            *broker.Server
	dev            *runtime.Device
	done           chan string // the device's verdicts: "" acted, else the reason
}

func startCommandCity(t *testing.T, runDevice bool) *commandCity {
	t.Helper()
	return startCommandCityOf(t, runDevice, fleet.Spec{ID: "sl-1", Zone: "z1", Kind: "streetlight"}, "set-level")
}

// startCommandCityOf is startCommandCity for device spec (in zone z1),
// alice endorsed for commands (comma-separated) on its kind.
func startCommandCityOf(t *testing.T, runDevice bool, spec fleet.Spec, commands string) *commandCity {
	t.Helper()
	c := &commandCity{dir: t.TempDir(), done: make(chan string, 16)}
	p := func(name string) string { return filepath.Join(c.dir, name) }
	signet(t, 0, "authority", "init", "--out", p("authority.jwk"), "--pub", p("authority.pub.jwk"))
	signet(t, 0, "keygen", "--out", p("alice.jwk"), "--pub", p("alice.pub.jwk"))
	signet(t, 0, "operator", "endorse", "--authority", p("authority.jwk"), "--operator", "alice", "--key", p("alice.pub.jwk"),
		"--zones", "z1", "--kinds", spec.Kind, "--commands", commands, "--ttl", "1h", "--out", p("alice.cwt"))
	auth, err := signing.LoadKeyFile(p("authority.pub.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	alice, err := loadPublicKey(p("alice.pub.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, c.dir, func(ctx context.Context, reg *devices.Registry) error {
		devs, err = fleet.Build(ctx, reg, []fleet.Spec{spec}, c.dir, "", &runtime.Stats{})
		if err != nil {
			return err
		}
		if _, err := reg.AddAuthorityKey(ctx, "city", devices.Key{KID: auth.KID, Alg: auth.Public.Alg(), Public: auth.Public.Bytes(), Status: devices.StatusActive}); err != nil {
			return err
		}
		// The edge allows alice more than her endorsement does: the
		// endorsement alone keeps her to set-level.
		return reg.EnrollOperator(ctx, devices.Operator{ID: "alice", Keys: []devices.Key{alice},
			Scope: devices.Scope{Zones: []string{"z1"}, Kinds: []string{spec.Kind}, Commands: []string{"*"}}})
	})
	hash, err := broker.HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	c.srv = brokertest.Start(t, store, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.Users = []broker.User{{Name: "alice", Role: broker.RoleOperator, Zones: []string{"z1"}, PasswordHash: hash}}
	})
	c.mqtt, c.api = "tcp://"+c.srv.MQTTAddr(), "http://"+c.srv.HTTPAddr()
	c.dev = devs[0]
	if err := signing.SavePublicKeyFile(p(spec.ID+".pub.jwk"), c.dev.Key.Public(), nil, false); err != nil {
		t.Fatal(err)
	}
	auths := command.Authorities{}
	auths.Add(auth.Public, auth.KID)
	c.dev.Commands = &command.Verifier{Zone: "z1", Device: spec.ID, Kind: spec.Kind, Params: spec.Params, Authorities: auths, Boot: time.Now().Add(-time.Minute)}
	c.dev.OnCommand = func(_ string, err error) {
		reason := ""
		if err != nil {
			reason = string(signing.ReasonOf(err))
		}
		c.done <- reason
	}
	if runDevice {
		c.run(t)
	}
	return c
}

// run boots the simulated device until the test ends.
func (c *commandCity) run(t *testing.T) {
	t.Helper()
	ready := make(chan struct{}, 4)
	c.dev.OnCommandsReady = func() { ready <- struct{}{} }
	c.dev.Broker = c.mqtt
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
}

// send runs "signet cmd send" as alice and expects exit code want.
func (c *commandCity) send(t *testing.T, want int, extra ...string) (string, string) {
	t.Helper()
	args := []string{"cmd", "send", "--as", filepath.Join(c.dir, "alice.jwk"), "--endorsement", filepath.Join(c.dir, "alice.cwt"),
		"--broker", c.mqtt, "--user", "alice", "--password", "pw", "--device", c.dev.ID, "--timeout", "20s"}
	return signet(t, want, append(args, extra...)...)
}

// TestCmdSendDone: alice's set-level reaches the device through the broker,
// the device verifies and acts on it, and "signet cmd send" verifies the
// device's signed ack and exits 0, with the device's key from a file or
// from the broker's API, which also gives the zone.
func TestCmdSendDone(t *testing.T) {
	c := startCommandCity(t, true)
	out, _ := c.send(t, exitDone, "--zone", "z1", "--device-key", filepath.Join(c.dir, "sl-1.pub.jwk"), "set-level", `{"level":40}`)
	if !strings.HasPrefix(out, "done: device sl-1 acted on set-level (counter ") {
		t.Fatalf("cmd send said %q", out)
	}
	if r := <-c.done; r != "" {
		t.Fatalf("the device refused an endorsed command: %s", r)
	}
	out, _ = c.send(t, exitDone, "--api", c.api, "set-level", `{"level":30}`)
	if !strings.HasPrefix(out, "done: device sl-1 acted on set-level") {
		t.Fatalf("cmd send --api said %q", out)
	}
	if r := <-c.done; r != "" {
		t.Fatalf("the device refused an endorsed command: %s", r)
	}
	if got := c.dev.Stats.CmdDone.Load(); got != 2 {
		t.Fatalf("device acted on %d commands, want 2", got)
	}
}

// TestCmdSendRefusedByBroker: a command outside alice's endorsement is
// refused by the broker (PUBACK 0x87, exit 3) and never reaches the device,
// while her endorsed command, sent right after, is done (exit 0).
func TestCmdSendRefusedByBroker(t *testing.T) {
	c := startCommandCity(t, true)
	key := filepath.Join(c.dir, "sl-1.pub.jwk")
	_, errOut := c.send(t, exitBrokerRefused, "--zone", "z1", "--device-key", key, "reboot", `{"level":5}`)
	if !strings.Contains(errOut, "broker refused city/z1/sl-1/cmd/reboot: PUBACK 0x87 not authorized") {
		t.Fatalf("cmd send said %q", errOut)
	}
	c.send(t, exitDone, "--zone", "z1", "--device-key", key, "set-level", `{"level":40}`)
	if r := <-c.done; r != "" {
		t.Fatalf("the device refused the endorsed command: %s", r)
	}
	if got := c.dev.Stats.CmdDone.Load() + c.dev.Stats.CmdRefused.Load(); got != 1 {
		t.Fatalf("the device saw %d commands, want only the endorsed one", got)
	}
	evs := c.srv.Events().Recent(0)
	found := false
	for _, e := range evs {
		found = found || (e.Topic == "city/z1/sl-1/cmd/reboot" && e.Reason == string(signing.ReasonUnauthorizedCommand))
	}
	if !found {
		t.Fatalf("no unauthorized_command event for the refused command in %+v", evs)
	}
}

// TestCmdSendNoAck: with the device offline the broker takes the command
// but no ack comes: exit 4 once --timeout has passed; with the device back,
// the next command is done.
func TestCmdSendNoAck(t *testing.T) {
	c := startCommandCity(t, false) // the device is offline
	_, errOut := c.send(t, exitNoAck, "--zone", "z1", "--device-key", filepath.Join(c.dir, "sl-1.pub.jwk"), "--timeout", "1s", "set-level", `{"level":40}`)
	if !strings.Contains(errOut, "no verified ack from device sl-1 within 1s") {
		t.Fatalf("cmd send said %q", errOut)
	}
	// Once the device is up, the next command is done.
	c.run(t)
	c.send(t, exitDone, "--zone", "z1", "--device-key", filepath.Join(c.dir, "sl-1.pub.jwk"), "set-level", `{"level":40}`)
}

// TestCmdSendRefusedByDevice: a device flashed with another authority's key
// refuses alice's command, which the broker let through, and says why in a
// signed ack: exit 2 with the device's reason. The broker accepted the
// device's ack like any honest message of it.
func TestCmdSendRefusedByDevice(t *testing.T) {
	c := startCommandCity(t, false)
	other, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	c.dev.Commands.Authorities = command.Authorities{}
	c.dev.Commands.Authorities.Add(other.Public(), nil)
	c.run(t)
	key := filepath.Join(c.dir, "sl-1.pub.jwk")
	_, errOut := c.send(t, exitDeviceRefused, "--zone", "z1", "--device-key", key, "set-level", `{"level":40}`)
	if !strings.Contains(errOut, "device sl-1 refused set-level: unauthorized_command") {
		t.Fatalf("cmd send said %q", errOut)
	}
	if r := <-c.done; r != string(signing.ReasonUnauthorizedCommand) {
		t.Fatalf("device said %q, want unauthorized_command", r)
	}
	if doc, _ := c.srv.Edge().Twin("sl-1"); doc.Security.Accepted == 0 || len(doc.Security.Rejected) != 0 {
		t.Fatalf("twin security %+v: the device's messages, its ack included, must all be accepted", doc.Security)
	}
}

// TestCmdSendTrafficSignal: alice puts intersection tl-07 into flash and
// back (exit 0 each, the device acting on both); a plan the intersection
// does not have is refused by the broker as unsafe (exit 3) and never
// reaches the device.
func TestCmdSendTrafficSignal(t *testing.T) {
	c := startCommandCityOf(t, true, fleet.Spec{ID: "tl-07", Zone: "z1", Kind: "traffic-signal", Params: model.DefaultSignalPlan}, "flash,resume,set-plan")
	key := filepath.Join(c.dir, "tl-07.pub.jwk")
	if out, _ := c.send(t, exitDone, "--api", c.api, "flash", `{"reason":"incident"}`); !strings.HasPrefix(out, "done: device tl-07 acted on flash") {
		t.Fatalf("flash: %q", out)
	}
	if r := <-c.done; r != "" {
		t.Fatalf("the signal refused flash: %s", r)
	}
	_, errOut := c.send(t, exitBrokerRefused, "--zone", "z1", "--device-key", key, "set-plan", `{"plan":"rush-hour-chaos"}`)
	if !strings.Contains(errOut, "PUBACK 0x87 not authorized") {
		t.Fatalf("set-plan: %q", errOut)
	}
	c.send(t, exitDone, "--zone", "z1", "--device-key", key, "resume", `{}`)
	if r := <-c.done; r != "" {
		t.Fatalf("the signal refused resume: %s", r)
	}
	if got := c.dev.Stats.CmdDone.Load() + c.dev.Stats.CmdRefused.Load(); got != 2 {
		t.Fatalf("the signal saw %d commands, want flash and resume only", got)
	}
	found := false
	for _, e := range c.srv.Events().Recent(0) {
		found = found || (e.Topic == "city/z1/tl-07/cmd/set-plan" && e.Reason == string(signing.ReasonUnsafeCommand))
	}
	if !found {
		t.Fatal("no unsafe_command event for the unknown plan")
	}
}
