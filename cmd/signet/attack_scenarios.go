package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/firmware-sim/attack"
)

// scenario is one attack the suite runs with the honest fleet beside it.
type scenario struct {
	name, risk string
	flood      bool // its floor is floodFloor
	// missing says why the target cannot support it ("" if it can).
	missing func(*scenarioEnv) string
	run     func(context.Context, *scenarioEnv) (hostileResult, error)
}

// The risks of docs/security.md.
const (
	riskTampered = "R1 tampered data"
	riskLeaked   = "R2 leaked data"
	riskForged   = "R3 forged control"
	riskAccess   = "R4 unauthorized access"
)

// kindRisk names the risk each hostile kind exercises.
var kindRisk = map[attack.Kind]string{
	attack.KindReplay: riskTampered, attack.KindTamper: riskTampered, attack.KindForgedKey: riskAccess,
	attack.KindForgedSignature: riskTampered, attack.KindWrongTopic: riskTampered, attack.KindWrongZone: riskLeaked,
	attack.KindGarbage: riskTampered, attack.KindForgedCommand: riskForged, attack.KindConflictingGreens: riskForged,
	attack.KindRebootReplay: riskTampered, attack.KindCounterRollback: riskTampered, attack.KindTamperHeader: riskTampered,
	attack.KindTamperTopic: riskTampered, attack.KindAlgDowngrade: riskTampered, attack.KindMalformed: riskTampered,
	attack.KindOversized: riskAccess, attack.KindRevokedKey: riskAccess, attack.KindExpiredKey: riskAccess,
}

// probeRisk names the risk each probe exercises.
var probeRisk = map[string]string{
	"empty-topic-alias": riskTampered, "oversized-connect": riskAccess, "slow-connect": riskAccess,
	"client-id-squat": riskAccess, "shared-group": riskLeaked, "twin-inflation": riskAccess,
	"event-flood": riskAccess, "cross-origin-enrol": riskAccess,
}

// allScenarios lists every scenario, in the order --scenario all runs them:
// each hostile kind, a cross-zone subscription, each probe, then the floods.
func allScenarios() []scenario {
	var out []scenario
	for _, k := range append(attack.Kinds(), attack.MoreKinds()...) {
		out = append(out, kindScenario(k))
	}
	for _, c := range commandScenarios {
		out = append(out, commandScenario(c.name, c.forge))
	}
	out = append(out, replayedCommand())
	out = append(out, scenario{name: "cross-zone-subscribe", risk: riskLeaked, missing: none, run: crossZoneSubscribe})
	for _, p := range attack.Probes() {
		out = append(out, probeScenario(p))
	}
	return append(out,
		scenario{name: "connect-flood", risk: riskAccess, flood: true, missing: none, run: connectFlood},
		scenario{name: "publish-flood", risk: riskAccess, flood: true, missing: none, run: publishFlood},
		scenario{name: "poisoned-batches", risk: riskTampered, missing: none, run: poisonedBatches},
	)
}

func none(*scenarioEnv) string { return "" }

// selectScenarios parses --scenario: all, or a comma-separated list.
func selectScenarios(s string) ([]scenario, error) {
	all := allScenarios()
	if s == "all" {
		return all, nil
	}
	var out []scenario
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, sc := range all {
			if sc.name == name {
				out, found = append(out, sc), true
				break
			}
		}
		if !found {
			return nil, usagef("--scenario %q is not one of all, %s", name, strings.Join(scenarioNames(), ", "))
		}
	}
	return out, nil
}

func scenarioNames() []string {
	var names []string
	for _, sc := range allScenarios() {
		names = append(names, sc.name)
	}
	return names
}

// kindScenario sends --count attacks of kind k at --rate as the victim.
func kindScenario(k attack.Kind) scenario {
	return scenario{
		name: string(k), risk: kindRisk[k],
		missing: func(e *scenarioEnv) string {
			if k.NeedsRetiredKey() && e.retired[k] == nil {
				return "needs a device with a retired key: run with --spawn"
			}
			return e.cast.missing(k, e.o.dir)
		},
		run: func(ctx context.Context, e *scenarioEnv) (hostileResult, error) { return runKind(ctx, e, k) },
	}
}

func runKind(ctx context.Context, e *scenarioEnv, k attack.Kind) (hostileResult, error) {
	var h hostileResult
	victim, err := e.boot(e.cast.victim)
	if err != nil {
		return h, err
	}
	other, err := e.boot(e.cast.other)
	if err != nil {
		return h, err
	}
	scene := attack.Scene{Victim: victim, Other: other}
	switch {
	case k.NeedsTrafficSignal():
		if scene.Victim, err = e.boot(e.cast.signal); err != nil {
			return h, err
		}
		scene.Other = nil
	case k.NeedsRetiredKey():
		r := e.retired[k]
		scene = attack.Scene{Victim: r.login, Retired: &r.retired}
	}
	// A client id of its own per scenario: the broker's event limit counts
	// per source (the client id, for rejected messages), so each
	// scenario's refusals are recorded under their own burst.
	clientID := scene.Victim.ID + "-" + string(k)
	conn, err := attack.Dial(ctx, e.broker, scene.Victim, clientID)
	if err != nil {
		return h, err
	}
	defer func() { conn.Close() }()
	if k.NeedsSeen() {
		if scene.Seen, err = captureAccepted(ctx, conn, scene.Victim); err != nil {
			return h, err
		}
	}
	if k.NeedsReboot() {
		// The device reboots: a new process reopens its counter file and
		// logs in again, and its first message is accepted; the one
		// captured before the reboot must still be a replay.
		conn.Close()
		if scene.Victim, err = e.boot(e.cast.victim); err != nil {
			return h, err
		}
		if conn, err = attack.Dial(ctx, e.broker, scene.Victim, clientID); err != nil {
			return h, err
		}
		if _, err = captureAccepted(ctx, conn, scene.Victim); err != nil {
			return h, fmt.Errorf("after the reboot: %w", err)
		}
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.o.rate))
	defer tick.Stop()
	t, err := attack.Launch(ctx, conn, scene, k, e.o.count, tick.C)
	h = hostileResult{sent: t.Sent, refused: t.Refused, accepted: t.Accepted, unanswered: t.Unanswered, note: t.CodeSummary()}
	if t.Expect != "" {
		h.note = "expect " + string(t.Expect) + "; " + h.note
	}
	return h, err
}

// crossZoneSubscribe has the victim, a device, subscribe to filters that
// reach other devices and other zones, and listen while the honest fleet
// publishes for --count ticks of --rate. The broker may grant a wildcard
// (it judges every delivery, MQTT 5 §4.7 leaves the ACL to the server),
// so what must be 0 is what it delivers: accepted counts the messages the
// attacker received on a topic that is not its own.
func crossZoneSubscribe(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
	var h hostileResult
	victim, err := e.boot(e.cast.victim)
	if err != nil {
		return h, err
	}
	own := "/" + victim.ID + "/"
	var leaked, ownGot atomic.Int64
	conn, err := attack.DialReceiving(ctx, e.broker, victim, victim.ID+"-cross-zone", func(t string) {
		if strings.Contains(t, own) {
			ownGot.Add(1)
		} else {
			leaked.Add(1)
		}
	})
	if err != nil {
		return h, err
	}
	defer conn.Close()
	filters := []string{"city/#", "city/+/+/tele/#", "city/+/+/state", "twin/#", "$share/g/city/#"}
	for _, z := range e.zones() {
		if z != victim.Zone {
			filters = append(filters, "city/"+z+"/#", "twin/"+z+"/#")
		}
	}
	codes := map[string]int{}
	for _, f := range filters {
		code, err := conn.Subscribe(ctx, f)
		if err != nil {
			return h, err
		}
		codes[fmt.Sprintf("SUBACK 0x%02x", code)]++
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.o.rate))
	defer tick.Stop()
	for i := 0; i < e.o.count && ctx.Err() == nil; i++ {
		<-tick.C
	}
	// A round trip after the last tick: what the broker sent before it
	// has reached the handler.
	if _, err := conn.Subscribe(ctx, "city/"+victim.Zone+own+"cmd/#"); err != nil {
		return h, err
	}
	h.sent = len(filters)
	h.accepted = int(leaked.Load())
	h.refused = h.sent
	h.note = fmt.Sprintf("%s; %d messages of other devices delivered", summarise(codes), h.accepted)
	return h, nil
}

// probeScenario runs one probe (a whole hostile exchange) with the honest
// fleet beside it; sent is what the probe sent, accepted 1 if it got through.
func probeScenario(p attack.Probe) scenario {
	return scenario{
		name: p.Name, risk: probeRisk[p.Name], flood: p.Name == "event-flood",
		missing: none,
		run: func(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
			var h hostileResult
			victim, err := e.boot(e.cast.victim)
			if err != nil {
				return h, err
			}
			other, err := e.boot(e.cast.other)
			if err != nil {
				return h, err
			}
			target := attack.Target{MQTT: e.broker, HTTP: e.api, Device: victim, Other: other, Patience: e.o.patience}
			o, err := p.Run(ctx, target)
			if errors.Is(err, attack.ErrNoTarget) {
				return h, fmt.Errorf("%w: %v", errSkip, err)
			}
			if err != nil {
				return h, err
			}
			h = hostileResult{sent: o.Sent, note: o.Reason + ": " + o.Detail}
			if o.Refused {
				h.refused = o.Sent
			} else {
				h.accepted = 1
			}
			return h, nil
		},
	}
}

// scenarioHelp lists the scenarios for --help.
func scenarioHelp() string {
	var b strings.Builder
	b.WriteString("  kinds beyond --kind all:\n")
	for _, k := range attack.MoreKinds() {
		fmt.Fprintf(&b, "    %s\n", k)
	}
	b.WriteString("  forged commands (--spawn: an operator's stolen console login and key):\n")
	for _, c := range commandScenarios {
		fmt.Fprintf(&b, "    %-24s %s\n", c.name, c.doc)
	}
	fmt.Fprintf(&b, "    %-24s %s\n", "command-replayed", "a genuine command, accepted once, sent again: replay")
	b.WriteString("  cross-zone-subscribe, the probes above, connect-flood, publish-flood, poisoned-batches")
	return b.String()
}

// zones are the zones of the images.
func (e *scenarioEnv) zones() []string {
	seen := map[string]bool{}
	var out []string
	for _, im := range append(e.honest, e.cast.victim) {
		if !seen[im.Zone] {
			seen[im.Zone] = true
			out = append(out, im.Zone)
		}
	}
	return out
}
