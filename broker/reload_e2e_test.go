package broker_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/broker"
)

// reload applies the running configuration changed by change, or fails.
func reload(t *testing.T, c *city, change func(*broker.Config)) {
	t.Helper()
	cfg := c.srv.RunningConfig()
	change(&cfg)
	if err := c.srv.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

// TestReloadRetainedQuota: a retained message that the quota took before
// a reload lowered it is refused after it (MQTT 5 PUBACK 0x97 Quota
// exceeded), while a client within the new quota keeps retaining.
func TestReloadRetainedQuota(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	anon := func(id string) *paho5.Client {
		cl, ack, err := dial5(t, c, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}, nil)
		if err != nil || ack.ReasonCode != 0 {
			t.Fatalf("connect %s: %v %+v", id, err, ack)
		}
		return cl
	}
	retain := func(cl *paho5.Client, tp string, payload []byte) byte {
		t.Helper()
		resp, err := cl.Publish(ctx, &paho5.Publish{Topic: tp, QoS: 1, Retain: true, Payload: payload})
		if resp == nil {
			t.Fatalf("publish %s: %v", tp, err)
		}
		return resp.ReasonCode
	}
	a := anon("anon-a")
	if got := retain(a, "ops/a", bytes.Repeat([]byte("x"), 500)); got != 0 {
		t.Fatalf("500 bytes under the default quota: reason %#x, want 0", got)
	}
	reload(t, c, func(cfg *broker.Config) { cfg.Clients.RetainedBytesPerClient = 1000 })
	if got := retain(a, "ops/b", bytes.Repeat([]byte("x"), 600)); got != 0x97 {
		t.Fatalf("600 more bytes over the reloaded 1000: reason %#x, want 0x97", got)
	}
	if got := retain(anon("anon-b"), "ops/c", []byte("small")); got != 0 {
		t.Fatalf("another client within the reloaded quota: reason %#x, want 0", got)
	}
}

// TestReloadMetricsTokenAndBodyLimit: a reload that sets
// metrics_token_sha256 closes /metrics to a scrape without the token from
// the next request, and one that lowers access_limits.http_max_body_bytes
// refuses a body the old limit read; /healthz and the token keep working.
func TestReloadMetricsTokenAndBodyLimit(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	get := func(path, token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/metrics", ""); code != http.StatusOK {
		t.Fatalf("/metrics before the reload: %d, want 200 (open)", code)
	}
	const token = "metrics-reload-token-0123456789"
	sum := sha256.Sum256([]byte(token))
	reload(t, c, func(cfg *broker.Config) { cfg.MetricsToken = broker.MetricsTokenSHA256(hex.EncodeToString(sum[:])) })
	if code := get("/metrics", ""); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token after the reload: %d, want 401", code)
	}
	if code := get("/metrics", token); code != http.StatusOK {
		t.Fatalf("/metrics with the token: %d, want 200", code)
	}

	// An admin's POST with a 2 KiB body: read (and judged on its content)
	// under the default 1 MiB, refused as too large under 1 KiB.
	post := func() int {
		t.Helper()
		body := `{"id":"x","pad":"` + strings.Repeat("p", 2048) + `"}`
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/devices", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", testPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	before := post()
	if before == http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 KiB body under the default limit: %d", before)
	}
	reload(t, c, func(cfg *broker.Config) { cfg.AccessLimits.HTTPMaxBodyBytes = 1024 })
	if after := post(); after != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 KiB body after http_max_body_bytes 1024: %d, want 413 (was %d)", after, before)
	}
	if code := get("/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz after the reloads: %d", code)
	}
}

// TestReloadConnectGate: after a reload lowers connections.max_connecting
// to 1, of two connections that send no CONNECT one is closed at once
// (counted as refused), while a client connected before keeps working.
func TestReloadConnectGate(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.AllowAnonymous = true })
	honest := c.connect(t, "ops-console", "admin")
	lobby := subscribe(t, honest, "lobby/#")
	refused := gauge(t, c, "signet_connections_refused_total")
	reload(t, c, func(cfg *broker.Config) {
		cfg.Connections.MaxConnecting, cfg.Connections.ConnectTimeout = 1, 10*time.Minute
	})
	closed := make(chan int, 2)
	for i := range 2 {
		conn, err := net.Dial("tcp", c.srv.MQTTAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		go func() {
			conn.Read(make([]byte, 1)) // returns when the broker closes it
			closed <- i
		}()
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("neither silent connection was refused under max_connecting 1 (the connect timeout is 10m)")
	}
	waitFor(t, "the refusal counted", func() bool { return gauge(t, c, "signet_connections_refused_total") == refused+1 })
	publish(t, honest, "lobby/still", 1, []byte("here"))
	if m := lobby.next(t); m.Topic() != "lobby/still" {
		t.Fatalf("the connected client got %s", m.Topic())
	}
}

// TestReloadRefusesRestartKeys: a config that changes a key read only at
// start is refused whole, naming every such key, and so is an envelope
// limit larger than the packets the broker reads; the running limits stay
// and the refusal is a security event, as a reload with its changed keys is.
func TestReloadRefusesRestartKeys(t *testing.T) {
	c := startCity(t, nil)
	cfg := c.srv.RunningConfig()
	cfg.MaxMessageBytes = 1024
	cfg.MQTT = "127.0.0.1:1"
	cfg.Connections.TopicAliasMaximum = 8
	err := c.srv.Reload(cfg)
	if err == nil || !strings.Contains(err.Error(), "mqtt, connections.topic_alias_maximum: changing them needs a restart") {
		t.Fatalf("reload changing mqtt and topic_alias_maximum: %v, want both named as needing a restart", err)
	}
	if got := c.srv.RunningConfig().MaxMessageBytes; got != 0 {
		t.Fatalf("max_message_bytes after a refused reload: %d, want the old 0 kept", got)
	}
	cfg = c.srv.RunningConfig()
	cfg.MaxMessageBytes = 1 << 20 // the packets were sized for 64 KiB envelopes at start
	if err := c.srv.Reload(cfg); err == nil || !strings.Contains(err.Error(), "max_message_bytes") || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("reload raising max_message_bytes past the packet size: %v", err)
	}
	reload(t, c, func(cfg *broker.Config) { cfg.MaxMessageBytes, cfg.CommandAPI.MaxWaits = 2048, 3 })

	// The events are written in order by one goroutine; wait for the last.
	count := func() (refused, reloaded int, detail string) {
		for _, ev := range c.srv.Events().Recent(100) {
			switch ev.Reason {
			case "config_reload_refused":
				refused++
			case "config_reloaded":
				reloaded, detail = reloaded+1, ev.Detail
			}
		}
		return refused, reloaded, detail
	}
	waitFor(t, "the reload's security event", func() bool { _, n, _ := count(); return n > 0 })
	if refused, reloaded, detail := count(); refused != 2 || reloaded != 1 || !strings.Contains(detail, "changed: max_message_bytes, command_api.max_waits;") {
		t.Fatalf("security events: %d refused, %d reloaded (%q); want 2, and 1 naming the changed keys", refused, reloaded, detail)
	}
	// The broker kept serving: a device's signed message still arrives.
	admin := c.connect(t, "ops-console", "admin")
	city := subscribe(t, admin, "city/#")
	dev := c.connect(t, "sl-1", "")
	msg := c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":5}`))
	publish(t, dev, "city/z1/sl-1/state", 1, msg)
	if m := city.next(t); !bytes.Equal(m.Payload(), msg) {
		t.Fatal("the signed message after the reloads did not arrive unchanged")
	}
}

// TestReloadableKeysDocumented: every key a reload changes is in the
// operations guide's list, so operators are told what SIGHUP does.
func TestReloadableKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range broker.Reloadable {
		k = strings.TrimSuffix(k, ".")
		if !strings.Contains(string(doc), "`"+k) {
			t.Errorf("docs/operations.md does not name the reloadable key %s", k)
		}
	}
}
