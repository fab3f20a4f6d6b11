package broker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
)

// scrape reads one sample of /metrics, e.g. `signet_messages_accepted_total`
// or `signet_messages_rejected_total{reason="replay"}`.
func scrape(t *testing.T, httpAddr, sample string) float64 {
	t.Helper()
	code, body, _ := httpCall(t, "GET", "http://"+httpAddr+"/metrics", "", "", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s", sample)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitSample waits, with a deadline, until sample reads want.
func waitSample(t *testing.T, httpAddr, sample string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got := scrape(t, httpAddr, sample); got != want; got = scrape(t, httpAddr, sample) {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", sample, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCountersSurviveARestart: the accepted and rejected counters once
// started from zero with every process, so `signet sim --metrics`, which
// subtracts a scrape before from one after, printed negative counts across
// a restart. They now start from the totals the twins keep in the store.
func TestCountersSurviveARestart(t *testing.T) {
	const accepted = 5
	const accSample, replaySample = `signet_messages_accepted_total`, `signet_messages_rejected_total{reason="replay"}`
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	dev := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	var last []byte
	for i := range accepted {
		last = c.devs["sl-1"].sign(t, tp, []byte(fmt.Sprintf(`{"level":%d}`, i)))
		publish(t, dev, tp, 1, last)
	}
	publish(t, dev, tp, 1, last) // a replay: one rejection
	waitSample(t, c.srv.HTTPAddr(), replaySample, 1)
	before := scrape(t, c.srv.HTTPAddr(), accSample)
	if before < accepted {
		t.Fatalf("accepted before the restart = %v, want at least %d", before, accepted)
	}
	dev.Disconnect(100)
	// The twins' totals also count each device's accepted connect token,
	// which the live counter does not: the stored total is what a restart
	// starts from, never less than the last scrape.
	var stored float64
	for _, d := range c.srv.Edge().Twins("") {
		stored += float64(d.Security.Accepted)
	}
	if stored < before {
		t.Fatalf("the twins hold %v accepted, fewer than the %v counted", stored, before)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP = c.store, "127.0.0.1:0", "127.0.0.1:0"
	srv, err := broker.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	if got := scrape(t, srv.HTTPAddr(), accSample); got != stored {
		t.Fatalf("accepted after the restart = %v, want the stored %v (%v scraped before it)", got, stored, before)
	}
	if got := scrape(t, srv.HTTPAddr(), replaySample); got != 1 {
		t.Fatalf("replays after the restart = %v, want 1 as before it", got)
	}

	// The honest device carries on, and the counter counts on from there.
	opts := paho.NewClientOptions().AddBroker("tcp://" + srv.MQTTAddr()).SetClientID("sl-1").
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetWriteTimeout(5 * time.Second).
		SetUsername("sl-1").SetPassword(string(c.devs["sl-1"].token(t, "sl-1")))
	again := paho.NewClient(opts)
	if tok := again.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect: %v", tok.Error())
	}
	defer again.Disconnect(100)
	publish(t, again, tp, 1, c.devs["sl-1"].sign(t, tp, []byte(`{"level":9}`)))
	waitSample(t, srv.HTTPAddr(), accSample, stored+1)
}
