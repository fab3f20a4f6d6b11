package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/firmware-sim/image"
)

// TestAttackScenarioQuick runs three scenarios against a real broker with an
// honest streetlight beside each: no hostile message is accepted, and the
// broker takes at least 99.9% of the honest messages meanwhile.
func TestAttackScenarioQuick(t *testing.T) {
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "city.yaml")
	yaml := "broker: tcp://127.0.0.1:1\nzones:\n  - name: harbour\n    intersections: 1\n    streetlights: 2\n"
	if err := os.WriteFile(fleetFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	images, store := filepath.Join(dir, "images"), filepath.Join(dir, "s.db")
	signet(t, 0, "flash", "--fleet", fleetFile, "--out", images, "--db", store, "--no-commands")
	srv := brokertest.Start(t, store, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	paths, _ := filepath.Glob(filepath.Join(images, "*.img"))
	for _, p := range paths {
		editImage(t, p, func(im *image.Image) { im.Broker = "tcp://" + srv.MQTTAddr() })
	}
	jsonFile := filepath.Join(dir, "s.json")
	out, _ := signet(t, 0, "attack", images, "--scenario", "replay,tamper,forged-signature", "--count", "20", "--rate", "200", "--json", jsonFile)
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rows []scenarioRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d scenarios reported, want 3:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r.Sent != 20 || r.Accepted != 0 || r.Refused != 20 {
			t.Errorf("%s: sent %d refused %d accepted %d, want 20 sent, all refused", r.Scenario, r.Sent, r.Refused, r.Accepted)
		}
		if r.HonestSent == 0 || r.HonestShare < honestFloor {
			t.Errorf("%s: honest %d/%d acked, want >= %.1f%%", r.Scenario, r.HonestAcked, r.HonestSent, 100*honestFloor)
		}
	}
	if !strings.Contains(out, "honest share") {
		t.Errorf("no table in the output:\n%s", out)
	}
}
