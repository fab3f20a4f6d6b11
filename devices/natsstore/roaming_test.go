package natsstore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/signet-city/signet/broker"
)

// TestRoamingDeviceTwinFollows: a device changes its state through broker
// A, then through broker B (whose twin in memory is older than the one A
// stored), then through A again. Every change is accepted, the stored twin's
// version grows with each and holds the last state, and neither edge
// stops: another device changes its state through both brokers afterwards.
func TestRoamingDeviceTwinFollows(t *testing.T) {
	dev, other := newDevice(t, "sl-1"), newDevice(t, "sl-2")
	d := startDistrict(t, dev, other)
	const tp = "city/z1/sl-1/state"
	level := 0
	var last uint64
	through := func(name string, srv *broker.Server) {
		t.Helper()
		cl := dev.connect(t, srv)
		for range 3 {
			level++
			msg := dev.sign(t, tp, []byte(fmt.Sprintf(`{"on":true,"level":%d}`, level)))
			if rc := publish(t, cl, tp, msg); rc != 0 {
				t.Fatalf("state change %d through %s: reason %#x", level, name, rc)
			}
			doc, ok := srv.Edge().Twin("sl-1")
			if !ok || doc.Version <= last || doc.Reported["level"] != float64(level) {
				t.Fatalf("twin at %s after change %d: version %d (before %d), level %v", name, level, doc.Version, last, doc.Reported["level"])
			}
			last = doc.Version
		}
		disconnect(cl)
	}
	through("A", d.a)
	through("B", d.b)
	through("A", d.a)

	snap, err := openOn(t, d.urls, 3).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range snap.Twins {
		if x.Device == "sl-1" && !strings.Contains(string(x.Doc), fmt.Sprintf(`"level":%d`, level)) {
			t.Fatalf("stored twin: %s, want level %d", x.Doc, level)
		}
	}
	const otp = "city/z1/sl-2/state"
	for name, srv := range map[string]*broker.Server{"A": d.a, "B": d.b} {
		cl := other.connect(t, srv)
		if rc := publish(t, cl, otp, other.sign(t, otp, []byte(`{"on":false,"level":0}`))); rc != 0 {
			t.Fatalf("another device's state change through %s afterwards: reason %#x", name, rc)
		}
		disconnect(cl)
	}
}
