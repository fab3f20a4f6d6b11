package broker_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
)

// TestMetricsToken: with metrics_token_sha256 set, /metrics refuses a
// scrape without the token, with a wrong one and with a user's basic
// credentials, and serves the scraper that has it; the rest of the HTTP
// face is unchanged meanwhile.
func TestMetricsToken(t *testing.T) {
	const token = "scrape-me-7f3a"
	sum := sha256.Sum256([]byte(token))
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.MetricsToken = broker.MetricsTokenSHA256(hex.EncodeToString(sum[:]))
	})
	url := "http://" + c.srv.HTTPAddr() + "/metrics"
	for _, try := range []struct{ name, user, bearer string }{
		{"no credentials", "", ""},
		{"wrong token", "", "scrape-me-7f3b"},
		{"a user's password", "admin", ""},
	} {
		code, body, h := httpCall(t, "GET", url, try.user, testPassword, try.bearer, "")
		if code != 401 || strings.Contains(body, "signet_messages_accepted_total") || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %q (WWW-Authenticate %q), want 401 and no metrics", try.name, code, body, h.Get("WWW-Authenticate"))
		}
	}
	code, body, _ := httpCall(t, "GET", url, "", "", token, "")
	if code != 200 || !strings.Contains(body, "signet_messages_accepted_total") {
		t.Fatalf("scraper with the token: %d %.200q", code, body)
	}
	if code, _, _ := httpCall(t, "GET", "http://"+c.srv.HTTPAddr()+"/healthz", "", "", "", ""); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
}

// TestMetricsOpenByDefault: without metrics_token_sha256, /metrics stays
// open, as before.
func TestMetricsOpenByDefault(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	code, body, _ := httpCall(t, "GET", "http://"+c.srv.HTTPAddr()+"/metrics", "", "", "", "")
	if code != 200 || !strings.Contains(body, "signet_messages_accepted_total") {
		t.Fatalf("open /metrics: %d", code)
	}
}

// TestMetricsTokenConfig: the key takes 64 hex digits and nothing else.
func TestMetricsTokenConfig(t *testing.T) {
	dir := t.TempDir()
	load := func(v string) (broker.Config, error) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte("store: s.db\nmetrics_token_sha256: "+v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return broker.LoadConfig(p)
	}
	good := strings.Repeat("ab", 32)
	if cfg, err := load(good); err != nil || string(cfg.MetricsToken) != good {
		t.Fatalf("good hash: %v %q", err, cfg.MetricsToken)
	}
	for _, bad := range []string{"abc", strings.Repeat("zz", 32), strings.Repeat("ab", 33), "[1, 2]"} {
		if _, err := load(bad); err == nil || !strings.Contains(err.Error(), "metrics_token_sha256") {
			t.Errorf("%q: err %v, want one naming metrics_token_sha256", bad, err)
		}
	}
}
