package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/firmware-sim/image"
)

// harbour is a real Signet broker (MQTT and HTTP on loopback ports) and a
// flashed district of zone harbour: a traffic signal, a loop detector and a
// streetlight, their images pointing at the broker.
type harbour struct {
	srv    *broker.Server
	images string
}

func startHarbour(t *testing.T) *harbour {
	t.Helper()
	dir := t.TempDir()
	fleetFile := filepath.Join(dir, "city.yaml")
	yaml := "broker: tcp://127.0.0.1:1\nzones:\n  - name: harbour\n    intersections: 1\n    streetlights: 1\n"
	if err := os.WriteFile(fleetFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	images, store := filepath.Join(dir, "images"), filepath.Join(dir, "s.db")
	signet(t, 0, "flash", "--fleet", fleetFile, "--out", images, "--db", store, "--no-commands")
	srv := brokertest.Start(t, store, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	// The broker's port is known only now: re-point the images at it.
	paths, _ := filepath.Glob(filepath.Join(images, "*.img"))
	for _, p := range paths {
		editImage(t, p, func(im *image.Image) { im.Broker = "tcp://" + srv.MQTTAddr() })
	}
	return &harbour{srv: srv, images: images}
}

// editImage loads, changes and re-saves one image (its counter path stays
// relative to the image's folder).
func editImage(t *testing.T, path string, change func(*image.Image)) {
	t.Helper()
	im, err := image.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	im.CounterPath = filepath.Base(im.CounterPath)
	change(im)
	if err := image.Save(path, im, true); err != nil {
		t.Fatal(err)
	}
}

// signet runs one command line in-process and checks its exit code.
func signet(t *testing.T, wantCode int, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, strings.NewReader(""), &out, &errOut); code != wantCode {
		t.Fatalf("signet %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// TestAttackEveryKindRefused runs "signet attack --kind all" against a real
// broker: every kind is sent and refused (exit 0), and the broker's security
// events carry, message for message, the reason each kind is built for.
func TestAttackEveryKindRefused(t *testing.T) {
	h := startHarbour(t)
	out, _ := signet(t, 0, "attack", h.images, "--count", "3", "--rate", "1000")
	// The victim is the first image (the loop detector); conflicting
	// greens come from the traffic signal's key.
	if !strings.Contains(out, "as compromised device harbour-ld-01 (zone harbour)") {
		t.Errorf("output does not name the compromised device:\n%s", out)
	}
	wantReason := map[string]string{
		"replay": "replay", "tamper": "bad_signature", "forged-key": "unknown_kid", "forged-signature": "bad_signature",
		"wrong-topic": "impersonation", "wrong-zone": "zone_mismatch", "garbage": "malformed",
		"forged-command": "unauthorized_command", "conflicting-greens": "invalid_state",
	}
	for kind, reason := range wantReason {
		code := "0x87 not authorized"
		if kind == "garbage" {
			code = "0x99 payload format invalid"
		}
		line := regexp.MustCompile(`(?m)^` + kind + ` +sent 3  refused 3  accepted 0  expect ` + reason + ` +` + code + ` ×3$`)
		if !line.MatchString(out) {
			t.Errorf("no line %q in:\n%s", line, out)
		}
	}
	if !strings.Contains(out, "total: sent 27, refused 27, accepted 0, unanswered 0\nevery hostile message and probe was refused\n") {
		t.Errorf("no clean total in:\n%s", out)
	}
	if err := h.srv.Shutdown(context.Background()); err != nil { // writes every queued event
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, ev := range h.srv.Events().Recent(0) {
		if ev.Kind == "rejected" {
			got[ev.Reason]++
		}
	}
	want := map[string]int{}
	for _, reason := range wantReason {
		want[reason] += 3
	}
	if len(got) != len(want) {
		t.Errorf("security events by reason %v, want %v", got, want)
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("security events %s: %d, want %d (all: %v)", reason, got[reason], n, got)
		}
	}
}

// TestAttackAllSkipsWhatOneImageCannotDo: with one streetlight image,
// "--kind all" runs every kind it can and names the ones it skipped.
func TestAttackAllSkipsWhatOneImageCannotDo(t *testing.T) {
	h := startHarbour(t)
	one := filepath.Join(t.TempDir(), "one")
	copyDevice(t, h.images, one, "harbour-sl-01")
	out, _ := signet(t, 0, "attack", one, "--rate", "1000")
	for _, want := range []string{
		"wrong-topic         skipped: needs a second device image of zone harbour in " + one + "\n",
		"forged-command      skipped: needs a second device image of zone harbour in " + one + "\n",
		"conflicting-greens  skipped: needs a traffic-signal image in " + one + "\n",
		"total: sent 6, refused 6, accepted 0, unanswered 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// copyDevice copies a device's image and counter file into folder to (made
// if needed). From then on only the copy's counter file is current.
func copyDevice(t *testing.T, from, to, device string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{device + ".img", device + ".ctr"} {
		data, err := os.ReadFile(filepath.Join(from, f))
		if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(f, ".ctr") {
			continue // never booted yet
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// simSummary is the numbers of sim's summary line.
var simSummary = regexp.MustCompile(`(?m)^devices (\d+)  boots \d+  sent (\d+)  acked (\d+)  rejected (\S+)  failed (\d+) `)

func summaryNumbers(t *testing.T, out string) (sent, acked int, rejected string) {
	t.Helper()
	m := simSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	sent, _ = strconv.Atoi(m[2])
	acked, _ = strconv.Atoi(m[3])
	return sent, acked, m[4]
}

// TestSimCountsRejected runs "signet sim --metrics" against a real broker.
// A streetlight whose image names the wrong zone publishes only messages
// the broker refuses (zone_mismatch), though MQTT 3.1.1 acknowledges them:
// the sim counts them from the broker's /metrics. The rest of the district
// is refused nothing, and without --metrics the count is n/a.
func TestSimCountsRejected(t *testing.T) {
	h := startHarbour(t)
	metrics := "http://" + h.srv.HTTPAddr() + "/metrics"

	good, _ := signet(t, 0, "sim", h.images, "--duration", "2s", "--rate", "5", "--metrics", metrics)
	if sent, acked, rejected := summaryNumbers(t, good); sent == 0 || acked == 0 || rejected != "0" {
		t.Errorf("honest district: sent %d, acked %d, rejected %s; want messages and 0 rejected\n%s", sent, acked, rejected, good)
	}

	rogue := filepath.Join(t.TempDir(), "rogue")
	copyDevice(t, h.images, rogue, "harbour-sl-01")
	img := filepath.Join(rogue, "harbour-sl-01.img")
	editImage(t, img, func(im *image.Image) { im.Zone = "elsewhere" })
	out, _ := signet(t, 0, "sim", rogue, "--duration", "2s", "--rate", "5", "--metrics", metrics)
	sent, acked, rejected := summaryNumbers(t, out)
	n, err := strconv.Atoi(rejected)
	if err != nil || acked == 0 || n < acked || n > sent {
		t.Errorf("mis-zoned device: sent %d, acked %d, rejected %s; want every acknowledged message rejected\n%s", sent, acked, rejected, out)
	}
	if !regexp.MustCompile(`(?m)^rejected by reason: zone_mismatch \d+$`).MatchString(out) {
		t.Errorf("no reasons line in:\n%s", out)
	}

	plain, _ := signet(t, 0, "sim", rogue, "--duration", "1s")
	if _, _, rejected := summaryNumbers(t, plain); rejected != "n/a" {
		t.Errorf("without --metrics: rejected %s, want n/a", rejected)
	}
}
