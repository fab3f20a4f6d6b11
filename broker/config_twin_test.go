package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTwinTopicsConfig: twin.rejected_per_second reads from the example,
// defaults when absent, and a value outside 0..1000 is one error naming it.
func TestTwinTopicsConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Payload.Twin.Topics.rejectedPerSecond(); got != DefaultRejectedPerSecond {
		t.Fatalf("example rejected_per_second = %d", got)
	}
	if got := DefaultConfig().Payload.Twin.Topics.rejectedPerSecond(); got != DefaultRejectedPerSecond {
		t.Fatalf("default rejected_per_second = %d", got)
	}
	dir := t.TempDir()
	for body, want := range map[string]string{
		"twin: {rejected_per_second: 20}\n":   "",
		"twin: {rejected_per_second: -1}\n":   "twin.rejected_per_second: -1 is outside 0..1000",
		"twin: {rejected_per_second: 5000}\n": "twin.rejected_per_second: 5000 is outside 0..1000",
	} {
		path := filepath.Join(dir, "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		c, err := LoadConfig(path)
		switch {
		case want == "" && (err != nil || c.Payload.Twin.Topics.rejectedPerSecond() != 20):
			t.Errorf("%q: %v %+v", body, err, c)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n")):
			t.Errorf("%q: got %v, want one line with %q", body, err, want)
		}
	}
}
