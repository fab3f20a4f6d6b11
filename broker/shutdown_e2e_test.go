package broker_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
)

// TestShutdownDrainsVerificationAndCommits: Shutdown while a device streams
// QoS 1 state updates, over its own connection (checked on mochi's reader)
// or a gateway's (checked in turns, several at once). Every update the
// broker acknowledged is in the store after Shutdown returns (verification
// and commit finished before the store closed), Shutdown reports no error,
// /readyz turned not-ready, and the audit chain is intact.
func TestShutdownDrainsVerificationAndCommits(t *testing.T) {
	for _, via := range []string{"device", "gateway"} {
		t.Run(via, func(t *testing.T) { testShutdownDrains(t, via) })
	}
}

func testShutdownDrains(t *testing.T, via string) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz before shutdown: %v %v", resp, err)
	}
	// The acknowledged message i has counter i+offset: a device's own
	// connection used counter 1 for its connect token.
	dev, offset := c.connect(t, "sl-1", ""), 1
	if via == "gateway" {
		dev, offset = c.connect(t, "gw-1", "gw"), 0
	}
	d := c.devs["sl-1"]
	const tp = "city/z1/sl-1/state"
	const n = 400
	toks := make([]paho.Token, 0, n)
	var highest int // highest level the broker acknowledged
	for i := 1; i <= n; i++ {
		toks = append(toks, dev.Publish(tp, 1, false, d.sign(t, tp, []byte(fmt.Sprintf(`{"level":%d}`, i%101)))))
		if i == n/4 {
			// Wait for a first acknowledgement, then shut down with the
			// rest in flight.
			if !toks[0].WaitTimeout(20*time.Second) || toks[0].Error() != nil {
				t.Fatalf("first publish: %v", toks[0].Error())
			}
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := c.srv.Shutdown(ctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
			}()
		}
	}
	acked := 0
	for i, tok := range toks {
		// Each token completes: acknowledged, or failed with the lost
		// connection.
		if !tok.WaitTimeout(30 * time.Second) {
			t.Fatalf("publish %d neither acknowledged nor failed", i+1)
		}
		if tok.Error() == nil {
			acked++
			highest = i + 1
		}
	}
	if acked == 0 {
		t.Fatal("no publish acknowledged")
	}
	// Shutdown is idempotent; this waits for the one started above.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get(base + "/readyz"); err == nil {
		t.Fatal("HTTP still served after shutdown")
	}
	store, err := boltstore.Open(c.store, boltstore.Options{})
	if err != nil {
		t.Fatalf("store after shutdown: %v", err)
	}
	defer store.Close()
	edge, err := devices.Open(context.Background(), store, devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer edge.Close(context.Background())
	doc, _ := edge.Twin("sl-1")
	// Acknowledged means durable: the mark covers the last acknowledged
	// counter (counter-only twin fields are written at Close, so they
	// count too).
	if err := edge.PreCheck(d.kid, uint64(highest+offset)); err == nil {
		t.Fatalf("store after shutdown: counter %d, acknowledged, is not below the durable mark", highest+offset)
	}
	if doc.Security.Accepted < uint64(acked) || doc.Security.LastCtr < uint64(highest+offset) {
		t.Fatalf("store after shutdown: accepted %d, last_ctr %d; broker acknowledged %d, the last being counter %d",
			doc.Security.Accepted, doc.Security.LastCtr, acked, highest+offset)
	}
	f, err := os.Open(c.audit)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := audit.Verify(f); err != nil {
		t.Fatalf("audit chain after shutdown: %v", err)
	}
}
