package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/signing"
)

// spawnOperator is the spawned broker's operator: the control authority
// "city" endorsed its key for flash and resume on harbour's traffic
// signals. The command scenarios hold its console login (a stolen one, the
// worst case: commands are judged by signature and endorsement) and its key
// with the endorsement stripped, re-signed or out of date.
const spawnOperator = "attack-operator"

// commandKit is what the command scenarios sign with.
type commandKit struct {
	authority signing.PrivateKey
	op        *command.Operator // endorsed, for the replayed command
	password  string
	scope     devices.Scope
}

// seqCounter is an operator key's counter, in memory: the spawned
// registry's operator is new, so it starts at 1.
type seqCounter struct{ n atomic.Uint64 }

func (c *seqCounter) Next() (uint64, error) { return c.n.Add(1), nil }

// enrolOperator adds the authority's key and the operator to reg and
// endorses the operator's key for an hour.
func enrolOperator(ctx context.Context, reg *devices.Registry) (*commandKit, error) {
	k, err := newOperatorKit(ctx, reg, spawnOperator, spawnZone)
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	return &commandKit{authority: k.authority, scope: k.scope, password: rand.Text(),
		op: &command.Operator{Key: k.key, KID: signing.KeyID(k.key.Public()), Endorsement: k.endorsement, Counter: &seqCounter{}}}, nil
}

// The forged-command scenarios, each refused at a different step.
var commandScenarios = []struct {
	name string
	doc  string
	// forge signs one hostile command; the kit's operator is the real one.
	forge func(k *commandKit, e *scenarioEnv) (topic string, msg []byte, err error)
}{
	{"command-unendorsed", "the operator's key with no endorsement: unauthorized_command", func(k *commandKit, e *scenarioEnv) (string, []byte, error) {
		op := *k.op
		op.Endorsement = nil
		return op.Sign(e.cast.signal.Zone, e.cast.signal.Device, "flash", []byte(`{"reason":"incident"}`), time.Now(), 30*time.Second)
	}},
	{"command-wrong-authority", "endorsed by an authority the registry does not know: unauthorized_command", func(k *commandKit, e *scenarioEnv) (string, []byte, error) {
		rogue, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return "", nil, err
		}
		op := *k.op
		if op.Endorsement, err = endorse(rogue, k.op.Key, spawnOperator, k.scope); err != nil {
			return "", nil, err
		}
		return op.Sign(e.cast.signal.Zone, e.cast.signal.Device, "flash", []byte(`{"reason":"incident"}`), time.Now(), 30*time.Second)
	}},
	{"command-out-of-scope", "a streetlight command, the endorsement is for traffic signals' flash and resume: unauthorized_command", func(k *commandKit, e *scenarioEnv) (string, []byte, error) {
		return k.op.Sign(e.cast.victim.Zone, e.cast.victim.Device, "set-level", []byte(`{"level":0}`), time.Now(), 30*time.Second)
	}},
	{"command-expired", "issued two minutes ago, expired one minute ago: expired", func(k *commandKit, e *scenarioEnv) (string, []byte, error) {
		return k.op.Sign(e.cast.signal.Zone, e.cast.signal.Device, "flash", []byte(`{"reason":"incident"}`), time.Now().Add(-2*time.Minute), time.Minute)
	}},
}

// commandScenario sends --count forged commands of one kind over the
// operator's console session.
func commandScenario(name string, forge func(*commandKit, *scenarioEnv) (string, []byte, error)) scenario {
	return scenario{
		name: name, risk: riskForged, missing: needsCommands,
		run: func(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
			return sendCommands(ctx, e, name, func() (string, []byte, error) { return forge(e.commands, e) })
		},
	}
}

// replayedCommand sends one genuine command (accepted: it is the one the
// attacker captures) and then replays it --count times: replay.
func replayedCommand() scenario {
	return scenario{
		name: "command-replayed", risk: riskForged, missing: needsCommands,
		run: func(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
			t, msg, err := e.commands.op.Sign(e.cast.signal.Zone, e.cast.signal.Device, "flash", []byte(`{"reason":"incident"}`), time.Now(), 30*time.Second)
			if err != nil {
				return hostileResult{}, err
			}
			conn, err := e.console(ctx)
			if err != nil {
				return hostileResult{}, err
			}
			code, err := conn.Publish(ctx, t, msg)
			if err != nil || attack.Refused(code) {
				return hostileResult{}, fmt.Errorf("the genuine command to capture: %s, %v; want it accepted", attack.CodeName(code), err)
			}
			return sendCommands(ctx, e, "command-replayed", func() (string, []byte, error) { return t, msg, nil })
		},
	}
}

func needsCommands(e *scenarioEnv) string {
	switch {
	case e.commands == nil:
		return "needs an enrolled operator and control authority: run with --spawn"
	case e.cast.signal == nil:
		return "needs a traffic-signal image"
	}
	return ""
}

// console is the operator's console session, one for the whole run: a
// password login costs the broker an argon2id hash (64 MiB), which a login
// per scenario would add to each one's RSS.
func (e *scenarioEnv) console(ctx context.Context) (*attack.Conn, error) {
	if e.consoleConn == nil {
		c, err := attack.DialUser(ctx, e.broker, spawnOperator, e.commands.password, spawnOperator+"-console")
		if err != nil {
			return nil, err
		}
		e.consoleConn = c
	}
	return e.consoleConn, nil
}

// sendCommands publishes --count commands from next at --rate over the
// operator's console session.
func sendCommands(ctx context.Context, e *scenarioEnv, name string, next func() (string, []byte, error)) (hostileResult, error) {
	var h hostileResult
	conn, err := e.console(ctx)
	if err != nil {
		return h, err
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.o.rate))
	defer tick.Stop()
	codes := map[string]int{}
	for i := 0; i < e.o.count && ctx.Err() == nil; i++ {
		<-tick.C
		t, msg, err := next()
		if err != nil {
			return h, err
		}
		h.sent++
		code, err := conn.Publish(ctx, t, msg)
		switch {
		case err != nil:
			h.unanswered++
		case attack.Refused(code):
			h.refused++
		default:
			h.accepted++
		}
		codes[attack.CodeName(code)]++
	}
	h.note = summarise(codes)
	return h, nil
}
