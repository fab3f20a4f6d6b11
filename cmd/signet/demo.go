package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/spf13/cobra"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/runtime"
)

func newDemoCmd() *cobra.Command {
	var duration time.Duration
	var intersections int
	var mqttAddr, httpAddr string
	cmd := &cobra.Command{
		Use:   "demo [--duration 30s]",
		Short: "Run a broker, a simulated district and an attack, and show what Signet decides",
		Long: `Start an embedded Signet broker on a temporary store, flash a small district
(intersections with a traffic signal and a loop detector each, streetlights and
air-quality boxes), run it, then launch a burst of attacks from a compromised
roadside gateway: a replayed message, a tampered one, forged keys, messages
moved to another device's topic or zone, garbage, and conflicting greens signed
with a real controller's key. Beside them, a legitimate traffic operator,
endorsed by the city's control authority, puts the last intersection into
flash and back (resume) with signed commands, as "signet cmd send" does: the
signal acts, acknowledges with a signed ack, and its twin follows.

It prints the twins as they change and every rejection with its reason, then a
summary. The exit code is 0 only if every device's twin was updated by its own
signed messages, every attack was refused with the expected reason, and the
operator's flash and resume were done with the twin following (the demo runs
up to 30 s past --duration for them to finish).
Ctrl-C stops it early (with the summary).`,
		Example: "  signet demo\n  signet demo --duration 2m --intersections 24",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if intersections < 2 {
				return usagef("--intersections must be at least 2")
			}
			if duration < 5*time.Second {
				return usagef("--duration must be at least 5s")
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), demoOptions{duration, intersections, mqttAddr, httpAddr})
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", 30*time.Second, "how long to run")
	cmd.Flags().IntVar(&intersections, "intersections", 12, "intersections in the district")
	cmd.Flags().StringVar(&mqttAddr, "mqtt-addr", "127.0.0.1:0", "MQTT listen address (port 0: any free port)")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "127.0.0.1:0", "HTTP API and metrics listen address")
	return cmd
}

type demoOptions struct {
	duration      time.Duration
	intersections int
	mqttAddr      string
	httpAddr      string
}

const demoZone = "downtown"

// demoOvertime is how much longer than --duration the demo may run for the
// operator's commands to finish.
const demoOvertime = 30 * time.Second

func runDemo(parent context.Context, out io.Writer, o demoOptions) error {
	// ctx runs the fleet for --duration, and at most demoOvertime longer
	// while the operator's flash and resume are still under way (a signal
	// enters flash only at a safe point of its cycle).
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	dir, err := os.MkdirTemp("", "signet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// Flash the district: keys, counters, models; public keys into the registry.
	storePath := filepath.Join(dir, "signet.db")
	store, err := boltstore.Open(storePath, boltstore.Options{})
	if err != nil {
		return err
	}
	stats := &runtime.Stats{}
	specs := fleet.District(demoZone, o.intersections)
	devs, err := fleet.Build(ctx, devices.NewRegistry(store, nil), specs, dir, "", stats)
	var ops *demoOperator
	if err == nil {
		ops, err = newDemoOperator(ctx, devices.NewRegistry(store, nil), dir)
	}
	store.Close()
	if err != nil {
		return err
	}
	// The last intersection's signal takes the operator's commands.
	for i := len(devs) - 1; i >= 0; i-- {
		if specs[i].Kind == "traffic-signal" {
			ops.flashWith(devs[i], specs[i].Params)
			break
		}
	}
	say("flashed %d devices in zone %q (Ed25519 keys, counters with reserve-ahead)", len(devs), demoZone)

	// The broker.
	password := randomPassword()
	hash, err := broker.HashPassword(password)
	if err != nil {
		return err
	}
	opsHash, err := broker.HashPassword(ops.password)
	if err != nil {
		return err
	}
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP, cfg.Audit = storePath, o.mqttAddr, o.httpAddr, filepath.Join(dir, "audit.jsonl")
	// The dashboard and the HTTP API take this bearer token (an admin's).
	token := randomPassword() + randomPassword()
	tokenSum := sha256.Sum256([]byte(token))
	cfg.Users = []broker.User{
		{Name: "admin", Role: broker.RoleAdmin, PasswordHash: hash},
		{Name: "dashboard", Role: broker.RoleAdmin, PasswordHash: hash, TokenSHA256: hex.EncodeToString(tokenSum[:])},
		{Name: "roadside-gw", Role: broker.RoleGateway, Zones: []string{demoZone}, PasswordHash: hash},
		{Name: demoOperatorName, Role: broker.RoleOperator, Zones: []string{demoZone}, PasswordHash: opsHash},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := broker.New(context.Background(), cfg, logger)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
	}()
	say("broker: mqtt://%s (admin / %s)", srv.MQTTAddr(), password)
	say("dashboard: http://%s/dashboard   token: %s", srv.HTTPAddr(), token)
	say("metrics: http://%s/metrics   twins: http://%s/api/v1/twins (Authorization: Bearer %s)", srv.HTTPAddr(), srv.HTTPAddr(), token)

	// Watch security events as an auditor would.
	rep := newDemoReport()
	admin, err := demoClient(srv.MQTTAddr(), "demo-console", "admin", password)
	if err != nil {
		return err
	}
	defer admin.Disconnect(100)
	admin.Subscribe(broker.EventsTopic, 1, func(_ paho.Client, m paho.Message) {
		var ev audit.Event
		if json.Unmarshal(m.Payload(), &ev) == nil {
			rep.rejected(ev)
			say("  REJECTED %-20s %-8s %s", ev.Reason, ev.Device, ev.Topic)
		}
	}).Wait()

	// Run the fleet.
	var capMu sync.Mutex
	var captured attack.Captured
	victim := devs[0] // tl-01
	victim.Tap = func(topic string, msg []byte) {
		capMu.Lock()
		captured = attack.Captured{Topic: topic, Message: msg}
		capMu.Unlock()
	}
	var wg sync.WaitGroup
	for _, d := range devs {
		d.Broker = "tcp://" + srv.MQTTAddr()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx, time.Second); err != nil && ctx.Err() == nil {
				say("  device %s: %v", d.ID, err)
			}
		}()
	}
	say("running %d devices for %s; attacks start at a third of the way", len(devs), o.duration)
	twinMode := func(id string) string {
		doc, _ := srv.Edge().Twin(id)
		if doc == nil {
			return ""
		}
		m, _ := doc.Reported["mode"].(string)
		return m
	}
	opsDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(opsDone)
		ops.run(ctx, srv.MQTTAddr(), twinMode, rep, say)
	}()
	end := time.After(o.duration)
	var overtime <-chan struct{} // opsDone, once --duration has passed

	attackAt := time.After(o.duration / 3)
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	start := time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			select {
			case <-opsDone:
				break loop
			default:
			}
			say("the operator's commands are still under way: running up to %s longer", demoOvertime)
			end, overtime = time.After(demoOvertime), opsDone
		case <-overtime:
			break loop
		case <-tick.C:
			say("t=%2.0fs sent=%d acked=%d | %s", time.Since(start).Seconds(), stats.Sent.Load(), stats.Acked.Load(), twinLine(srv.Edge(), specs))
		case <-attackAt:
			capMu.Lock()
			seen := captured
			capMu.Unlock()
			if err := launchAttacks(srv.MQTTAddr(), password, victim, devs[2], seen, rep, say); err != nil {
				say("  attack: %v", err)
			}
		}
	}
	cancel()
	wg.Wait()
	if parent.Err() != nil {
		// Ctrl-C: a clean stop. The summary covers what ran; only an attack
		// that was launched and not refused is a failure.
		say("\nstopped (interrupt): devices disconnected, broker drained, temporary store removed")
		return rep.summary(out, srv.Edge(), specs, true)
	}
	return rep.summary(out, srv.Edge(), specs, false)
}

// twinLine is a live glimpse of the twins: how many devices have updated
// theirs, and the latest reported state of one device of each kind.
func twinLine(edge *devices.Edge, specs []fleet.Spec) string {
	updated := 0
	seen := map[string]bool{}
	var parts []string
	for _, s := range specs {
		doc, ok := edge.Twin(s.ID)
		if !ok || doc.Version == 0 {
			continue
		}
		updated++
		if seen[s.Kind] {
			continue
		}
		seen[s.Kind] = true
		r := doc.Reported
		switch s.Kind {
		case "traffic-signal":
			parts = append(parts, fmt.Sprintf("%s %s", s.ID, groupLine(r)))
		case "streetlight":
			parts = append(parts, fmt.Sprintf("%s on=%v %v%%", s.ID, r["on"], r["level"]))
		case "air-quality":
			parts = append(parts, fmt.Sprintf("%s pm2.5=%v", s.ID, r["pm25"]))
		case "loop-detector":
			parts = append(parts, fmt.Sprintf("%s %v", s.ID, r["status"]))
		}
	}
	return fmt.Sprintf("twins updated %d/%d | %s", updated, len(specs), strings.Join(parts, " | "))
}

func launchAttacks(addr, password string, victim, other *runtime.Device, seen attack.Captured, rep *demoReport, say func(string, ...any)) error {
	if seen.Message == nil {
		return fmt.Errorf("no message of %s captured yet", victim.ID)
	}
	inFlight, err := attack.Intercept(victim, []byte(`{"mode":"normal","plan":"fixed-time"}`))
	if err != nil {
		return err
	}
	plan, err := attack.Plan(victim, other, seen, inFlight)
	if err != nil {
		return err
	}
	greens, err := attack.ConflictingGreens(victim, time.Now().UnixMilli())
	if err != nil {
		return err
	}
	plan = append(plan, greens)
	gw, err := demoClient(addr, "compromised-gw", "roadside-gw", password)
	if err != nil {
		return err
	}
	defer gw.Disconnect(100)
	say("ATTACK: a compromised roadside gateway sends %d hostile messages", len(plan))
	for _, a := range plan {
		rep.launched(a)
		say("  attack: %-44s -> expect %s", a.Name, a.Expect)
		gw.Publish(a.Topic, 1, false, a.Payload).Wait()
	}
	return nil
}

func demoClient(addr, id, user, password string) (paho.Client, error) {
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetUsername(user).SetPassword(password).SetProtocolVersion(4))
	tok := cl.Connect()
	tok.Wait()
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("%s: connect: %w", id, err)
	}
	return cl, nil
}

func randomPassword() string {
	b := make([]byte, 9)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// groupLine shows a traffic signal's groups compactly: 2:G 4:r ...
func groupLine(reported map[string]any) string {
	gs, _ := reported["groups"].(map[string]any)
	var ids []string
	for id := range gs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var parts []string
	for _, id := range ids {
		g, _ := gs[id].(map[string]any)
		s, _ := g["state"].(string)
		mark := map[string]string{"green": "G", "yellow": "Y", "red": "r"}[s]
		parts = append(parts, id+":"+mark)
	}
	return strings.Join(parts, " ")
}

// demoReport matches attacks to the security events they caused.
type demoReport struct {
	mu       sync.Mutex
	attacks  []attack.Attack
	byReason map[string]int
	commands []demoCommand // the legitimate operator's (demo_operator.go)
}

func newDemoReport() *demoReport { return &demoReport{byReason: map[string]int{}} }

func (r *demoReport) launched(a attack.Attack) {
	r.mu.Lock()
	r.attacks = append(r.attacks, a)
	r.mu.Unlock()
}

func (r *demoReport) rejected(ev audit.Event) {
	r.mu.Lock()
	r.byReason[ev.Reason]++
	r.mu.Unlock()
}

// summary prints the outcome and fails unless every device's twin changed
// and every attack was refused with its expected reason.
//
// interrupted (Ctrl-C) relaxes the first two: the run was cut short.
func (r *demoReport) summary(out io.Writer, edge *devices.Edge, specs []fleet.Spec, interrupted bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(out, "\nSUMMARY")
	updated := 0
	for _, s := range specs {
		doc, ok := edge.Twin(s.ID)
		if !ok {
			continue
		}
		verdict := "no update"
		if doc.Version > 0 {
			updated++
			verdict = "updated"
		}
		fmt.Fprintf(out, "twin %-8s %-15s v%-4d accepted %-4d %s\n", s.ID, s.Kind, doc.Version, doc.Security.Accepted, verdict)
	}
	fmt.Fprintf(out, "twins updated by their own signed messages: %d of %d devices\n", updated, len(specs))
	want := map[string]int{}
	for _, a := range r.attacks {
		want[string(a.Expect)]++
	}
	var reasons []string
	for reason := range want {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	missing := 0
	for _, reason := range reasons {
		got := r.byReason[reason]
		verdict := "ok"
		if got < want[reason] {
			verdict, missing = "MISSING", missing+want[reason]-got
		}
		fmt.Fprintf(out, "attacks expecting %-14s %d launched, %d rejected  %s\n", reason, want[reason], got, verdict)
	}
	failedCommands := r.commandSummary(func(f string, a ...any) { fmt.Fprintf(out, f, a...) })
	switch {
	case interrupted && missing == 0 && failedCommands == 0:
		fmt.Fprintln(out, "interrupted: every attack launched so far was refused with its reason")
		return nil
	case len(r.attacks) == 0:
		return fmt.Errorf("demo: no attack was launched (run longer)")
	case updated < len(specs):
		return fmt.Errorf("demo: %d devices never updated their twin", len(specs)-updated)
	case missing > 0:
		return fmt.Errorf("demo: %d attacks were not refused as expected", missing)
	case failedCommands > 0 || len(r.commands) < 2:
		return fmt.Errorf("demo: the operator's flash and resume did not both end done with the twin following")
	}
	fmt.Fprintln(out, "every device updated its twin; every attack was refused with its reason")
	fmt.Fprintln(out, "the operator's signed flash and resume were done, and the twin followed")
	return nil
}
