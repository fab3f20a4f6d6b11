package attack_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
)

// city is a real Signet broker on a loopback port with a traffic signal and
// a streetlight of zone z1 enrolled.
type city struct {
	srv           *broker.Server
	signal, light *runtime.Device
}

func startCity(t *testing.T, configure ...func(*broker.Config)) *city {
	t.Helper()
	dir := t.TempDir()
	specs := []fleet.Spec{
		{ID: "tl-1", Zone: "z1", Kind: "traffic-signal", Params: model.DefaultSignalPlan},
		{ID: "sl-1", Zone: "z1", Kind: "streetlight"},
	}
	var devs []*runtime.Device
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		devs, err = fleet.Build(ctx, reg, specs, dir, "", &runtime.Stats{})
		return err
	})
	srv := brokertest.Start(t, store, configure...)
	for _, d := range devs {
		d.Broker = "tcp://" + srv.MQTTAddr()
	}
	return &city{srv: srv, signal: devs[0], light: devs[1]}
}

// TestEveryKindIsRefusedForItsReason sends every kind of attack, twice, as
// a compromised traffic signal over MQTT 5: the broker must refuse every
// message (PUBACK 0x99 for garbage, 0x87 for the rest) and record one
// security event per message with the reason the kind is built for.
func TestEveryKindIsRefusedForItsReason(t *testing.T) {
	c := startCity(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := attack.Dial(ctx, c.signal.Broker, c.signal, "tl-1-attacker")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	seen, err := attack.Capture(c.signal, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, err := conn.Publish(ctx, seen.Topic, seen.Message); err != nil || attack.Refused(code) {
		t.Fatalf("the device's own reading: code %s, err %v; want it accepted", attack.CodeName(code), err)
	}
	scene := attack.Scene{Victim: c.signal, Other: c.light, Seen: seen}
	const count = 2
	want := map[string]int{}
	for _, k := range attack.Kinds() {
		tally, err := attack.Launch(ctx, conn, scene, k, count, nil)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		wantCode := byte(0x87)
		if k == attack.KindGarbage {
			wantCode = 0x99
		}
		if tally.Sent != count || tally.Refused != count || tally.Codes[wantCode] != count {
			t.Errorf("%s: %+v; want %d sent and refused with %s", k, tally, count, attack.CodeName(wantCode))
		}
		want[string(tally.Expect)] += count
	}
	if err := c.srv.Shutdown(ctx); err != nil { // writes every queued security event
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range c.srv.Events().Recent(0) {
		if ev.Kind == "rejected" {
			got[ev.Reason]++
		}
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("security events with reason %s: %d, want %d (all: %v)", reason, got[reason], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("security events by reason %v, want exactly %v", got, want)
	}
}

// TestPlanIsEveryKindButConflictingGreens keeps the demo's plan and the
// attack command's kinds one list.
func TestPlanIsEveryKindButConflictingGreens(t *testing.T) {
	c := startCity(t)
	seen, err := attack.Capture(c.signal, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inFlight, err := attack.Intercept(c.signal, []byte(`{"mode":"normal"}`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := attack.Plan(c.signal, c.light, seen, inFlight)
	if err != nil {
		t.Fatal(err)
	}
	kinds := attack.Kinds()
	if len(plan) != len(kinds)-1 {
		t.Fatalf("plan has %d attacks, want %d", len(plan), len(kinds)-1)
	}
	for i, a := range plan {
		if a.Kind != kinds[i] || a.Kind == attack.KindConflictingGreens || a.Expect == "" || a.Name == "" {
			t.Errorf("plan[%d] = %s %q (expect %q), want kind %s", i, a.Kind, a.Name, a.Expect, kinds[i])
		}
	}
	if plan[1].Topic != inFlight.Topic {
		t.Errorf("tamper uses %s, want the message in flight on %s", plan[1].Topic, inFlight.Topic)
	}
}

// TestBuildNamesWhatIsMissing: a kind that needs a second device or a
// captured message says so instead of building a wrong attack.
func TestBuildNamesWhatIsMissing(t *testing.T) {
	c := startCity(t)
	s := attack.Scene{Victim: c.signal}
	for _, k := range []attack.Kind{attack.KindWrongTopic, attack.KindForgedCommand, attack.KindReplay, attack.KindWrongZone} {
		if _, err := s.Build(k); err == nil {
			t.Errorf("%s built without what it needs", k)
		}
	}
	for _, k := range []attack.Kind{attack.KindTamper, attack.KindForgedKey, attack.KindForgedSignature, attack.KindGarbage, attack.KindConflictingGreens} {
		a, err := s.Build(k)
		if err != nil || a.Kind != k || len(a.Payload) == 0 {
			t.Errorf("%s: %+v %v", k, a, err)
		}
	}
	if _, err := attack.ParseKind("nuke"); err == nil {
		t.Error(`ParseKind("nuke") succeeded`)
	}
	for _, k := range attack.Kinds() {
		if got, err := attack.ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
}
