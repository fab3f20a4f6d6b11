package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAccessLimitsConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessLimits != DefaultAccessLimits() {
		t.Fatalf("the example's access_limits %+v differ from the defaults %+v", c.AccessLimits, DefaultAccessLimits())
	}
	if (AccessLimits{}).withDefaults() != DefaultAccessLimits() {
		t.Fatal("zero access_limits do not take the defaults")
	}
	cases := map[string]string{
		"access_limits: {max_concurrent_hashes: -1}\n":                         "access_limits.max_concurrent_hashes",
		"access_limits: {http_read_header_timeout: -5s}\n":                     "access_limits.http_read_header_timeout",
		"access_limits: {address_backoff_base: 1m, address_backoff_max: 1s}\n": "access_limits.address_backoff_max",
		"access_limits: {name_backoff_max: 1ms}\n":                             "access_limits.name_backoff_max",
		"access_limits: {http_idle_timeout: soon}\n":                           "soon",
		"access_limits: {max_waiting_hashes: 4, colour: blue}\n":               "field colour not found",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %v, want one line naming %q", body, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("access_limits: {max_concurrent_hashes: 1, name_backoff_base: 2s}\n"), 0o600)
	c, err = LoadConfig(path)
	if err != nil || c.AccessLimits.withDefaults().MaxConcurrentHashes != 1 || c.AccessLimits.withDefaults().NameBackoffBase != 2*time.Second ||
		c.AccessLimits.withDefaults().MaxWaitingHashes != 16 {
		t.Fatalf("partial access_limits: %+v, %v", c.AccessLimits, err)
	}
}
