package attack_test

import (
	"context"
	"testing"
	"time"

	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// TestMoreKindsAreRefusedForTheirReason sends every kind of MoreKinds,
// twice, as a compromised streetlight over MQTT 5 against a real broker: a
// rotated device signs with its revoked and its expired first key. Every
// message must be refused with its PUBACK code and recorded with the
// reason the kind is built for, and an honest streetlight publishing
// between the attacks must have every reading accepted.
func TestMoreKindsAreRefusedForTheirReason(t *testing.T) {
	dir := t.TempDir()
	specs := []fleet.Spec{
		{ID: "sl-1", Zone: "z1", Kind: "streetlight"}, {ID: "sl-2", Zone: "z1", Kind: "streetlight"},
		{ID: "sl-rev", Zone: "z1", Kind: "streetlight"}, {ID: "sl-exp", Zone: "z1", Kind: "streetlight"},
	}
	var devs []*runtime.Device
	retired := map[attack.Kind]*attack.RetiredKey{}
	store := brokertest.NewStore(t, dir, func(ctx context.Context, reg *devices.Registry) (err error) {
		if devs, err = fleet.Build(ctx, reg, specs, dir, "", &runtime.Stats{}); err != nil {
			return err
		}
		for i, k := range []attack.Kind{attack.KindRevokedKey, attack.KindExpiredKey} {
			d := devs[2+i]
			old := &attack.RetiredKey{Key: d.Key, KID: d.KID}
			next, err := signing.GenerateKey(signing.AlgEd25519)
			if err != nil {
				return err
			}
			kid := signing.KeyID(next.Public())
			grace := 24 * time.Hour
			if k == attack.KindExpiredKey {
				grace = 0
			}
			if _, err := reg.Rotate(ctx, d.ID, devices.Key{KID: kid, Alg: next.Alg(), Public: next.Public().Bytes()}, grace); err != nil {
				return err
			}
			if k == attack.KindRevokedKey {
				if _, err := reg.RevokeKey(ctx, old.KID); err != nil {
					return err
				}
			}
			d.Key, d.KID, retired[k] = next, kid, old
		}
		return nil
	})
	srv := brokertest.Start(t, store)
	url := "tcp://" + srv.MQTTAddr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	victim, honest := devs[0], devs[1]
	conn, err := attack.Dial(ctx, url, victim, "sl-1-attacker")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := attack.Dial(ctx, url, honest, "sl-2-honest")
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	publishHonest := func(when string) {
		t.Helper()
		m, err := attack.Capture(honest, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if code, err := hc.Publish(ctx, m.Topic, m.Message); err != nil || attack.Refused(code) {
			t.Errorf("honest reading %s: %s, %v; want it accepted", when, attack.CodeName(code), err)
		}
	}
	seen, err := attack.Capture(victim, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, err := conn.Publish(ctx, seen.Topic, seen.Message); err != nil || attack.Refused(code) {
		t.Fatalf("the device's own reading: %s, %v; want it accepted", attack.CodeName(code), err)
	}
	const count = 2
	want := map[string]int{}
	for _, k := range attack.MoreKinds() {
		scene, c := attack.Scene{Victim: victim, Seen: seen}, conn
		if r := retired[k]; r != nil {
			d := devs[2]
			if k == attack.KindExpiredKey {
				d = devs[3]
			}
			scene = attack.Scene{Victim: d, Retired: r}
			if c, err = attack.Dial(ctx, url, d, d.ID+"-attacker"); err != nil {
				t.Fatalf("%s: the device's current key must still log in: %v", k, err)
			}
			defer c.Close()
		}
		tally, err := attack.Launch(ctx, c, scene, k, count, nil)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		wantCode := byte(0x87)
		if tally.Expect == signing.ReasonMalformed {
			wantCode = 0x99
		}
		if tally.Sent != count || tally.Refused != count || tally.Codes[wantCode] != count {
			t.Errorf("%s: %+v; want %d sent and refused with %s", k, tally, count, attack.CodeName(wantCode))
		}
		want[string(tally.Expect)] += count
		publishHonest("after " + string(k))
	}
	if err := srv.Shutdown(ctx); err != nil { // writes every queued security event
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range srv.Events().Recent(0) {
		if ev.Kind == "rejected" {
			got[ev.Reason]++
		}
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("security events with reason %s: %d, want %d (all: %v)", reason, got[reason], n, got)
		}
	}
}
