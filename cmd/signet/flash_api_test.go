package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/firmware-sim/image"
)

// TestFlashOverAPI flashes devices with "signet flash --api" into a running
// broker (MQTT and HTTP on loopback ports, a real store): the broker takes
// them at once, "signet sim" runs them with every message accepted (its
// rejected count read from the /metrics address the images record), and
// their twins update. Refusals by the broker (wrong role, wrong token, a
// device enrolled twice) are one line and write no image.
func TestFlashOverAPI(t *testing.T) {
	token, viewerToken := "admin-token-1", "viewer-token-1"
	sha := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:]) }
	dir := t.TempDir()
	srv := brokertest.Start(t, filepath.Join(dir, "s.db"), func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.Users = []broker.User{
			{Name: "flasher", Role: broker.RoleAdmin, TokenSHA256: sha(token)},
			{Name: "dash", Role: broker.RoleViewer, Zones: []string{"harbour"}, TokenSHA256: sha(viewerToken)},
		}
	})
	api, mqttURL := "http://"+srv.HTTPAddr(), "tcp://"+srv.MQTTAddr()
	images := filepath.Join(dir, "images")

	out, _ := signet(t, 0, "flash", "--device", "sl-07", "--kind", "streetlight", "--zone", "harbour", "--broker", mqttURL,
		"--out", filepath.Join(images, "sl-07.img"), "--api", api, "--token", token, "--no-commands")
	if !strings.HasPrefix(out, "flashed sl-07 (streetlight, zone harbour) kid ") {
		t.Fatalf("flash said %q", out)
	}
	im, err := image.Load(filepath.Join(images, "sl-07.img"))
	if err != nil || im.API != api {
		t.Fatalf("image: api %q, %v; want %s", im.API, err, api)
	}
	if rec, ok := srv.Edge().KeyByKID(im.PrivateKey().KID); !ok || rec.Owner != "sl-07" {
		t.Fatalf("the running broker does not know sl-07's key: %+v", rec)
	}

	fleetFile := filepath.Join(dir, "city.yaml")
	yaml := "broker: " + mqttURL + "\nzones:\n  - name: harbour\n    intersections: 1\n    air_quality: 1\n"
	if err := os.WriteFile(fleetFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _ := signet(t, 0, "flash", "--fleet", fleetFile, "--out", images, "--api", api, "--token", token, "--no-commands"); out != "flashed 3 devices into "+images+"\n" {
		t.Fatalf("fleet flash said %q", out)
	}

	refusals := []struct {
		name string
		args []string
		want string
	}{
		{"viewer", []string{"--device", "sl-08", "--token", viewerToken}, "enrolling devices is for the admin role (HTTP 403); the user needs the admin role"},
		{"wrong token", []string{"--device", "sl-08", "--token", "nope"}, "unknown bearer token (HTTP 401); check --token, or --user and --password"},
		{"enrolled twice", []string{"--device", "sl-07", "--token", token}, `device "sl-07" is already enrolled (HTTP 409)`},
	}
	for _, r := range refusals {
		img := filepath.Join(dir, "refused", r.name+".img")
		args := append([]string{"flash", "--kind", "streetlight", "--zone", "harbour", "--broker", mqttURL, "--out", img, "--api", api, "--no-commands"}, r.args...)
		_, stderr := signet(t, 1, args...)
		if !strings.HasPrefix(stderr, "signet: --api "+api+": device ") || !strings.Contains(stderr, r.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: stderr %q, want one line with %q", r.name, stderr, r.want)
		}
		if _, err := os.Stat(img); !os.IsNotExist(err) {
			t.Errorf("%s: an image was written for a refused device", r.name)
		}
	}

	// No --metrics: the sim reads the broker's /metrics at the address
	// the images record, so rejected is a number, not n/a.
	simOut, _ := signet(t, 0, "sim", images, "--duration", "2s", "--rate", "5")
	if sent, acked, rejected := summaryNumbers(t, simOut); sent == 0 || acked == 0 || rejected != "0" {
		t.Errorf("sim: sent %d, acked %d, rejected %s; want messages and 0 rejected\n%s", sent, acked, rejected, simOut)
	}
	for _, id := range []string{"sl-07", "harbour-tl-01", "harbour-ld-01", "harbour-aq-01"} {
		doc, ok := srv.Edge().Twin(id)
		if !ok || doc.Security.Accepted == 0 || doc.Version == 0 {
			t.Errorf("twin of %s after the sim: %+v", id, doc)
		}
	}
}
