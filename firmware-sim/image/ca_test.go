package image

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestCAField: an image without ca has no pool (the system's roots decide);
// a ca that holds no certificate, or a private key, is refused naming the
// field, and the image it came with is not loaded.
func TestCAField(t *testing.T) {
	path, data := good(t, t.TempDir())
	im, err := Load(path)
	if err != nil || im.RootCAs() != nil || strings.Contains(string(data), `"ca"`) {
		t.Fatalf("image without ca: %v, pool %v", err, im.RootCAs())
	}
	for _, bad := range []string{
		"not pem at all",
		"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
	} {
		ca, _ := json.Marshal(bad)
		with := strings.Replace(string(data), `"counter_path"`, `"ca": `+string(ca)+`, "counter_path"`, 1)
		if err := os.WriteFile(path, []byte(with), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), `field "ca"`) {
			t.Errorf("ca %q: %v, want an error naming field \"ca\"", bad, err)
		}
	}
}
