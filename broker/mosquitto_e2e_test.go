package broker_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMosquittoClients: Debian's mosquitto_pub and mosquitto_sub (installed
// by .ci/run) against Signet. A gateway's signed message is delivered
// unchanged to mosquitto_sub; a tampered one is refused, and an MQTT 5
// mosquitto_pub is told "not authorized".
func TestMosquittoClients(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (apt-get install mosquitto-clients; .ci/run does it): %v", tool, err)
		}
	}
	c := startCity(t, nil)
	host, port, _ := strings.Cut(c.srv.MQTTAddr(), ":")
	dir := t.TempDir()
	const tp = "city/z1/sl-1/state"
	good := c.devs["sl-1"].sign(t, tp, []byte(`{"level":33}`))
	bad := c.devs["sl-1"].sign(t, tp, []byte(`{"level":34}`))
	bad[len(bad)-1] ^= 1
	goodPath, badPath := filepath.Join(dir, "good.cose"), filepath.Join(dir, "bad.cose")
	os.WriteFile(goodPath, good, 0o600)
	os.WriteFile(badPath, bad, 0o600)

	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")

	pub := func(args ...string) (string, error) {
		cmd := exec.Command("mosquitto_pub", append([]string{"-h", host, "-p", port, "-u", "gw", "-P", testPassword, "-t", tp, "-q", "1"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := pub("-V", "mqttv5", "-f", badPath)
	if !strings.Contains(strings.ToLower(out), "not authori") {
		t.Fatalf("mosquitto_pub (MQTT 5) of a tampered message: %v %q, want a not-authorized report", err, out)
	}
	events.next(t) // the bad_signature event: it was processed before the good one is sent
	// The good message is published retained, so mosquitto_sub started
	// afterwards receives it without any timing assumption; a refused
	// message is never retained (it would be what mosquitto_sub gets).
	if out, err := pub("-r", "-f", goodPath); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	received, err := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-u", "admin", "-P", testPassword,
		"-t", "city/#", "-C", "1", "-W", "30", "-N").Output()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v", err)
	}
	if !bytes.Equal(received, good) {
		t.Fatalf("mosquitto_sub received %x, want the good message unchanged", received)
	}
}
