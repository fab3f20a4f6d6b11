package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/image"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
)

func newAttackCmd() *cobra.Command {
	var o attackOptions
	var kinds, probes string
	cmd := &cobra.Command{
		Use:   "attack IMAGES_DIR [--kind all] [--probe all --api URL] [--count 1] [--rate 10] | attack [IMAGES_DIR] --scenario all [--spawn] [--report DIR]",
		Short: "Send hostile messages to the broker as a compromised device, and check it refuses them",
		Long: strings.Replace(`Act as a compromised device: take the key of a flashed image in IMAGES_DIR
(the first one, or --device), log in to the broker named in the image (or
--broker) with a connect token signed by that key, and publish hostile
messages. Kinds (--kind, comma-separated, or all):

  replay              a real message of the device, accepted once, sent again
  tamper              a real message intercepted in flight, one payload byte flipped
  forged-key          signed by a key that was never enrolled
  forged-signature    the device's kid, a forger's signature
  wrong-topic         a real message moved to another device's topic (needs 2 images)
  wrong-zone          a real message moved to another zone
  garbage             no COSE_Sign1 envelope at all
  forged-command      a command to another device signed by the device's own key,
                      with no operator endorsement (needs 2 images)
  conflicting-greens  every signal group green, signed by a real traffic signal's
                      key (the device if it is one, else the first traffic-signal image)

--kind none sends no hostile message (with --probe, only the probes run).

Probes (--probe, comma-separated, or all; none by default) attack the edges
around the per-message checks: packets, sessions, the HTTP face and what a
valid device can spend. Each runs one whole hostile exchange and reports
whether the broker refused it, and how. Those that need the HTTP API take
its address from --api; with --probe all, a probe whose target is missing
is skipped with a note.

PROBES

Each kind sends --count fresh messages, --rate messages per second overall.
For replay, wrong-topic and wrong-zone the attacker first publishes one real
reading of the device (it must be accepted) and reuses it.

How it tells: the attacker speaks MQTT 5 (eclipse/paho.golang) and publishes
at QoS 1, so the broker answers every message with a PUBACK reason code:
0x87 (not authorized) or 0x99 (payload format invalid) for a refusal, below
0x80 for a message it took. That verdict is exact for every message, unlike
watching a twin (MQTT 3.1.1 acknowledges a refused message like any other).
The reason shown (docs/protocol.md) is the one each kind is built to trigger; the
broker's own record of it is on $security/events and /metrics (above the
broker's per-client rate limit some are refused as rate_limited first).

The exit code is 0 only if every hostile message and every probe was refused. The attacker
uses and advances the device's counter file, as the device would after a
reboot; do not attack a device that a "signet sim" is running at the same
time (their counters would collide and the sim's messages be refused as
replays).

Scenarios (--scenario, comma-separated, or all) run each hostile kind
(those above and the ones below), the forged commands, a cross-zone
subscription, each probe and three floods, one after another, with the honest devices (every image that
plays no hostile part) publishing a reading every 20 ms beside each. For
each scenario they report the hostile messages sent, refused and accepted,
the security events an auditor saw on $security/events (and how many
refusals they stand for: past the per-source burst one aggregate counts the
rest), the honest readings a viewer of the zone received over those sent,
and the broker's peak RSS. A scenario holds when it had 0 accepted, honest
delivery of at least 99.9% (95% for the floods) and a peak RSS under
--rss-limit; the exit code is 1 when one did not.

--spawn starts its own "signet serve" on a fresh store in a temp
directory: a flashed district (2 intersections, 4 streetlights of zone
harbour, 2 streetlights of zone hill), two devices whose first key was
revoked or rotated out, a control authority and an operator it endorsed,
a viewer, an auditor, an admin and the operator's console login; its RSS
is read from /proc. Without it, give the images of
a running broker and --reader, --auditor (and --api with --metrics-token
for its RSS); without --reader the honest share is PUBACKs over sent.

SCENARIOS`, "PROBES", probeHelp(), 1),
		Example: `  signet attack images/
  signet attack images/ --kind replay,tamper --count 100 --rate 50
  signet attack images/ --device tl-03 --kind conflicting-greens
  signet attack images/ --broker tcp://10.0.0.5:1883
  signet attack --spawn --scenario all --count 100 --rate 200 --report report/`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.scen.spawn {
				if len(args) != 0 {
					return usagef("--spawn flashes its own images: give no IMAGES_DIR")
				}
				return nil
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.scen.spawn && o.scen.name == "" {
				return usagef("--spawn goes with --scenario")
			}
			if o.kinds, err = parseAttackKinds(kinds); err != nil {
				return err
			}
			if probes != "" {
				if o.probes, err = attack.ParseProbes(probes); err != nil {
					return usagef("--probe: %v, or all", err)
				}
			}
			if len(o.kinds) == 0 && len(o.probes) == 0 {
				return usagef("--kind none needs --probe: there would be nothing to send")
			}
			if o.count < 1 || o.count > 1_000_000 {
				return usagef("--count must be between 1 and 1000000 messages per kind")
			}
			if o.rate <= 0 || o.rate > 10_000 {
				return usagef("--rate must be more than 0 and at most 10000 messages per second")
			}
			o.all, o.allProbes = kinds == "all", probes == "all"
			if len(args) == 1 {
				o.dir = args[0]
			}
			if o.scen.name != "" {
				return runScenarios(cmd.Context(), cmd.OutOrStdout(), o)
			}
			return runAttack(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kinds, "kind", "all", "attacks to run: all, none, or a comma-separated list of kinds")
	f.StringVar(&probes, "probe", "", "probes to run: all, or a comma-separated list of probes")
	f.StringVar(&o.api, "api", "", "the broker's HTTP API, http://host:port, for the probes that need it")
	f.DurationVar(&o.patience, "patience", 30*time.Second, "how long a probe waits for the broker to answer or to close a connection (above the broker's connect deadline)")
	f.IntVar(&o.count, "count", 1, "messages per kind")
	f.Float64Var(&o.rate, "rate", 10, "messages per second, all kinds together")
	f.StringVar(&o.device, "device", "", "the compromised device (default: the first image)")
	f.StringVar(&o.broker, "broker", "", "broker URL, tcp://host:port (default: the image's broker)")
	addScenarioFlags(cmd, &o.scen)
	cmd.Long = strings.Replace(cmd.Long, "SCENARIOS", scenarioHelp(), 1)
	return cmd
}

type attackOptions struct {
	dir, device, broker, api string
	kinds                    []attack.Kind
	all                      bool // --kind all: skip, with a note, kinds the images cannot support
	probes                   []attack.Probe
	allProbes                bool // --probe all: skip, with a note, probes the target cannot support
	count                    int
	rate                     float64
	patience                 time.Duration // how long a probe waits for the broker to act
	scen                     scenarioFlags // --scenario mode (attack_scenario.go)
}

func parseAttackKinds(s string) ([]attack.Kind, error) {
	switch s {
	case "all":
		return attack.Kinds(), nil
	case "none":
		return nil, nil
	}
	var out []attack.Kind
	for _, name := range strings.Split(s, ",") {
		k, err := attack.ParseKind(strings.TrimSpace(name))
		if err != nil {
			return nil, usagef("--kind: %v, all or none", err)
		}
		out = append(out, k)
	}
	return out, nil
}

// attackCast is who plays which part, chosen from the images.
type attackCast struct {
	victim, other, signal *image.Image // other, signal: nil if the images have none
}

func castAttack(ims []*image.Image, device, dir string) (attackCast, error) {
	var c attackCast
	for _, im := range ims {
		if im.Device == device || (device == "" && c.victim == nil) {
			c.victim = im
		}
	}
	if c.victim == nil {
		return c, usagef("--device %s: no image of that device in %s", device, dir)
	}
	for _, im := range ims {
		if c.other == nil && im != c.victim && im.Zone == c.victim.Zone {
			c.other = im
		}
	}
	if c.victim.Kind == "traffic-signal" {
		c.signal = c.victim
	}
	for _, im := range ims {
		if c.signal == nil && im.Kind == "traffic-signal" {
			c.signal = im
		}
	}
	return c, nil
}

// missing says why the images cannot support kind k ("" if they can).
func (c attackCast) missing(k attack.Kind, dir string) string {
	switch {
	case k.NeedsOther() && c.other == nil:
		return fmt.Sprintf("needs a second device image of zone %s in %s", c.victim.Zone, dir)
	case k.NeedsTrafficSignal() && c.signal == nil:
		return fmt.Sprintf("needs a traffic-signal image in %s", dir)
	}
	return ""
}

func runAttack(ctx context.Context, out io.Writer, o attackOptions) error {
	ims, err := fleet.LoadImages(o.dir)
	if err != nil {
		return err
	}
	cast, err := castAttack(ims, o.device, o.dir)
	if err != nil {
		return err
	}
	var kinds []attack.Kind
	var skipped []string
	for _, k := range o.kinds {
		why := cast.missing(k, o.dir)
		switch {
		case why == "":
			kinds = append(kinds, k)
		case o.all:
			skipped = append(skipped, fmt.Sprintf("%-19s skipped: %s", k, why))
		default:
			return usagef("--kind %s %s", k, why)
		}
	}
	brokerURL := o.broker
	if brokerURL == "" {
		brokerURL = cast.victim.Broker
	}
	boot := func(im *image.Image) (*simrt.Device, error) {
		if im == nil {
			return nil, nil
		}
		return fleet.FromImage(im, 1, &simrt.Stats{})
	}
	victim, err := boot(cast.victim)
	if err != nil {
		return err
	}
	other, err := boot(cast.other)
	if err != nil {
		return err
	}
	var total attack.Tally
	if len(kinds) > 0 {
		if total, err = runKinds(ctx, out, o, cast, kinds, brokerURL, victim, other, boot); err != nil {
			return err
		}
	}
	for _, s := range skipped {
		fmt.Fprintln(out, s)
	}
	var probed probeTally
	if len(o.probes) > 0 {
		fmt.Fprintf(out, "probing %s (HTTP %s) as compromised device %s\n", brokerURL, orNone(o.api), victim.ID)
		target := attack.Target{MQTT: brokerURL, HTTP: o.api, Device: victim, Other: other, Patience: o.patience}
		if probed, err = runProbes(ctx, out, o.probes, target, o.allProbes); err != nil {
			return err
		}
	}
	if len(kinds) > 0 {
		fmt.Fprintf(out, "total: sent %d, refused %d, accepted %d, unanswered %d\n", total.Sent, total.Refused, total.Accepted, total.Unanswered)
	}
	if len(o.probes) > 0 {
		fmt.Fprintf(out, "probes: ran %d, refused %d, skipped %d\n", probed.ran, probed.refused, probed.skipped)
	}
	switch {
	case total.Accepted > 0:
		return fmt.Errorf("attack: the broker accepted %d of %d hostile messages", total.Accepted, total.Sent)
	case total.Unanswered > 0:
		return fmt.Errorf("attack: %d of %d messages got no PUBACK; their verdict is unknown", total.Unanswered, total.Sent)
	case len(probed.accepted) > 0:
		return fmt.Errorf("attack: the broker let these probes through: %s", strings.Join(probed.accepted, ", "))
	case ctx.Err() != nil:
		return fmt.Errorf("attack: interrupted after %d messages, all refused", total.Sent)
	}
	fmt.Fprintln(out, "every hostile message and probe was refused")
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// runKinds sends the hostile messages of kinds as the victim and tallies
// the broker's PUBACK verdicts.
func runKinds(ctx context.Context, out io.Writer, o attackOptions, cast attackCast, kinds []attack.Kind, brokerURL string, victim, other *simrt.Device, boot func(*image.Image) (*simrt.Device, error)) (attack.Tally, error) {
	var total attack.Tally
	scene := attack.Scene{Victim: victim, Other: other}

	conn, err := attack.Dial(ctx, brokerURL, victim, victim.ID+"-attacker")
	if err != nil {
		return total, err
	}
	defer conn.Close()
	fmt.Fprintf(out, "attacking %s as compromised device %s (zone %s) over MQTT 5; verdicts from PUBACK reason codes\n", brokerURL, victim.ID, victim.Zone)

	needSeen := false
	for _, k := range kinds {
		needSeen = needSeen || k.NeedsSeen()
	}
	if needSeen {
		if scene.Seen, err = captureAccepted(ctx, conn, victim); err != nil {
			return total, err
		}
		fmt.Fprintf(out, "captured a real message of %s on %s (the broker accepted it)\n", victim.ID, scene.Seen.Topic)
	}

	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer tick.Stop()
	for _, k := range kinds {
		s, c := scene, conn
		if k.NeedsTrafficSignal() && cast.signal != cast.victim {
			// Conflicting greens need a real traffic signal's key: that
			// controller is the compromised device for this kind.
			sig, err := boot(cast.signal)
			if err != nil {
				return total, err
			}
			if c, err = attack.Dial(ctx, brokerURL, sig, sig.ID+"-attacker"); err != nil {
				return total, err
			}
			defer c.Close()
			s = attack.Scene{Victim: sig}
		}
		t, err := attack.Launch(ctx, c, s, k, o.count, tick.C)
		if err != nil {
			return total, err
		}
		fmt.Fprintf(out, "%-19s sent %d  refused %d  accepted %d  expect %-21s %s\n", k, t.Sent, t.Refused, t.Accepted, t.Expect, t.CodeSummary())
		total.Sent, total.Refused, total.Accepted, total.Unanswered = total.Sent+t.Sent, total.Refused+t.Refused, total.Accepted+t.Accepted, total.Unanswered+t.Unanswered
		if ctx.Err() != nil {
			break
		}
	}
	return total, nil
}

// captureAccepted publishes one real reading of d and checks the broker took
// it: the message replay, wrong-topic and wrong-zone reuse.
func captureAccepted(ctx context.Context, conn *attack.Conn, d *simrt.Device) (attack.Captured, error) {
	seen, err := attack.Capture(d, time.Now())
	if err != nil {
		return seen, err
	}
	code, err := conn.Publish(ctx, seen.Topic, seen.Message)
	if err != nil {
		return seen, fmt.Errorf("capturing a real message of %s: %w", d.ID, err)
	}
	if attack.Refused(code) {
		return seen, fmt.Errorf("capturing a real message of %s: the broker refused the device's own message (%s); is its counter file behind the broker's, or the image's zone not its registered zone?", d.ID, attack.CodeName(code))
	}
	return seen, nil
}
