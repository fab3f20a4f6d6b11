package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// demoOperator is the demo's legitimate traffic operator: the city's
// control authority endorsed its key for flash and resume on the zone's
// traffic signals, and it puts one intersection into flash and back, with
// the same signing, counter and ack check as "signet cmd send".
type demoOperator struct {
	op       *command.Operator
	auths    command.Authorities // what the target device is flashed with
	keyPath  string              // its counter file lives beside it
	password string
	target   *runtime.Device
	ready    chan struct{} // closed once the target subscribed to its commands
	once     sync.Once
}

// demoOperatorName is the operator's id and MQTT user.
const demoOperatorName = "ops-centre"

// newDemoOperator makes the authority and the operator's keys, enrols the
// authority's public key and the operator in reg, and endorses the
// operator's key for 1 hour.
func newDemoOperator(ctx context.Context, reg *devices.Registry, dir string) (*demoOperator, error) {
	k, err := newOperatorKit(ctx, reg, demoOperatorName, demoZone)
	if err != nil {
		return nil, err
	}
	authority, key, cwt := k.authority, k.key, k.endorsement
	auths := command.Authorities{}
	auths.Add(authority.Public(), nil)
	return &demoOperator{
		op:    &command.Operator{Key: key, KID: signing.KeyID(key.Public()), Endorsement: cwt},
		auths: auths, keyPath: filepath.Join(dir, "ops-centre.jwk"), password: randomPassword(),
		ready: make(chan struct{}),
	}, nil
}

// flashWith makes d take commands from the operator's authority.
func (o *demoOperator) flashWith(d *runtime.Device, params []byte) {
	o.target = d
	d.Commands = &command.Verifier{Zone: d.Zone, Device: d.ID, Kind: "traffic-signal", Params: params, Authorities: o.auths, Boot: time.Now()}
	d.OnCommandsReady = func() { o.once.Do(func() { close(o.ready) }) }
}

// demoCommand is one command of the operator and what came of it.
type demoCommand struct {
	name, outcome string // outcome: done, or why not
	mode          string // the mode the twin must then report
	followed      bool   // the twin reported it
}

// run sends flash, waits for the twin to report it, then resume, and
// records each in rep.
func (o *demoOperator) run(ctx context.Context, mqttAddr string, twinMode func(string) string, rep *demoReport, say func(string, ...any)) {
	select {
	case <-o.ready:
	case <-ctx.Done():
		return
	}
	for _, step := range []struct{ name, payload, mode string }{
		{"flash", `{"reason":"incident"}`, "flash"},
		{"resume", `{}`, "normal"},
	} {
		c := demoCommand{name: step.name, mode: step.mode}
		send := &cmdSend{
			as: o.keyPath, brokerURL: "tcp://" + mqttAddr, user: demoOperatorName, password: o.password,
			device: o.target.ID, zone: o.target.Zone, ttl: 30 * time.Second, timeout: 15 * time.Second, connectTimeout: 15 * time.Second,
		}
		t, msg, err := send.sign(o.op, step.name, []byte(step.payload))
		if err == nil {
			var ack *runtime.Ack
			if ack, err = send.exchange(ctx, t, msg, []signing.PublicKey{o.target.Key.Public()}, step.name, lastCounter(msg)); err == nil {
				c.outcome = ack.Status
				if ack.Status != "done" {
					c.outcome = "refused by the device: " + ack.Reason
				}
			}
		}
		if err != nil && ctx.Err() != nil {
			return // stopped (Ctrl-C) mid-command: nothing to judge
		}
		if err != nil {
			c.outcome = err.Error()
		}
		say("COMMAND: operator %s sends %s %s to %s -> %s", demoOperatorName, step.name, step.payload, o.target.ID, c.outcome)
		if c.outcome == "done" {
			c.followed = waitFor(ctx, func() bool { return twinMode(o.target.ID) == step.mode })
			if !c.followed && ctx.Err() != nil {
				return
			}
			say("  twin %s reports mode %q", o.target.ID, twinMode(o.target.ID))
		}
		rep.command(c)
		if !c.followed {
			return
		}
	}
}

// waitFor checks cond every 200 ms until it holds or ctx ends (a traffic
// signal enters flash only at a safe point of its cycle, seconds later).
func waitFor(ctx context.Context, cond func() bool) bool {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
	return true
}

// command records an operator command's outcome.
func (r *demoReport) command(c demoCommand) {
	r.mu.Lock()
	r.commands = append(r.commands, c)
	r.mu.Unlock()
}

// commandSummary prints the operator's commands and counts those that did
// not end done with the twin following (the caller holds r.mu).
func (r *demoReport) commandSummary(w func(string, ...any)) (failed int) {
	for _, c := range r.commands {
		verdict := "ok"
		if c.outcome != "done" || !c.followed {
			verdict, failed = "FAILED", failed+1
		}
		w("operator command %-7s %s, twin mode %-7s %s\n", c.name, c.outcome, fmt.Sprintf("%q", c.mode), verdict)
	}
	return failed
}
