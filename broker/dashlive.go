package broker

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
)

// liveDash is what the live dashboard needs beside the read API: devices'
// connection state, the per-second counts and the hub of open streams.
type liveDash struct {
	cfg     DashboardConfig // with defaults
	edge    *devices.Edge
	log     *slog.Logger
	conns   *connTracker
	rates   *rateTally
	hub     *streamHub
	started time.Time
}

// eventsSubscriptionID is the inline subscription to $security/events that
// feeds the streams (MQTT 5 §3.8.2.1.2: any id of ours, unique here).
const eventsSubscriptionID = 5006

// newLiveDash checks cfg and assembles the parts; who is the access hook's
// identity of a client. The streams' gauges register with reg.
func newLiveDash(cfg DashboardConfig, edge *devices.Edge, who func(*mqtt.Client) (Identity, bool), reg prometheus.Registerer, log *slog.Logger) (*liveDash, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	now := time.Now()
	d := &liveDash{cfg: cfg, edge: edge, log: log, rates: newRateTally(cfg.RateSeconds, now), hub: newStreamHub(cfg), started: now}
	d.conns = &connTracker{
		who: who, zoneOf: d.zoneOf, now: time.Now, devs: map[string]*deviceConns{}, byClient: map[*mqtt.Client]string{}, seen: map[string]time.Time{},
		changed: d.connChanged, accepted: func(zone string) { d.rates.add(zone, true) },
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_dashboard_streams", Help: "Live streams (GET /api/v1/stream) open."},
			func() float64 { return float64(d.hub.open()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_dashboard_streams_dropped_total", Help: "Live streams dropped because their reader fell behind."},
			func() float64 { return float64(d.hub.dropped.Load()) }),
	)
	return d, nil
}

// zoneOf is a registered device's zone.
func (d *liveDash) zoneOf(device string) (string, bool) {
	if device == "" {
		return "", false
	}
	doc, ok := d.edge.Twin(device)
	if !ok {
		return "", false
	}
	return doc.Zone, true
}

// seesAll is whether id may see every zone's counts: admins, and auditors,
// who read every security event anyway.
func seesAll(id Identity) bool { return id.Role == RoleAdmin || id.Role == RoleAuditor }

// zoneVisible is which zones' counts id sees: those whose twins it may read.
func (d *liveDash) zoneVisible(id Identity) func(zone string) bool {
	return func(zone string) bool {
		if seesAll(id) {
			return true
		}
		return zone != "" && (id.Role == RoleViewer || id.Role == RoleOperator) && id.HasZone(zone)
	}
}

// connChanged streams a device's connect or disconnect to those who may
// read its twin.
func (d *liveDash) connChanged(device, zone string, st ConnState) {
	b, err := json.Marshal(map[string]any{"device": device, "zone": zone, "connection": st})
	if err != nil {
		return
	}
	d.hub.send(func(id Identity) (streamMsg, bool) {
		return streamMsg{"conn", b}, mayReadTwin(id, zone, device)
	})
}

// sendSeen streams, once a second, when the devices with accepted
// messages were last seen: each stream gets the devices whose twins it may
// read.
func (d *liveDash) sendSeen(seen map[string]time.Time) {
	if len(seen) == 0 {
		return
	}
	zones := make(map[string]string, len(seen))
	for dev := range seen {
		zones[dev], _ = d.zoneOf(dev)
	}
	d.hub.send(func(id Identity) (streamMsg, bool) {
		mine := map[string]time.Time{}
		for dev, t := range seen {
			if mayReadTwin(id, zones[dev], dev) {
				mine[dev] = t
			}
		}
		if len(mine) == 0 {
			return streamMsg{}, false
		}
		b, err := json.Marshal(mine)
		return streamMsg{"seen", b}, err == nil
	})
}

// run feeds the streams until ctx ends: twin changes from the edge,
// security events from $security/events, and every second the counts.
func (d *liveDash) run(ctx context.Context, srv *mqtt.Server) {
	err := srv.Subscribe(EventsTopic, eventsSubscriptionID, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		if !json.Valid(pk.Payload) {
			return
		}
		b := append([]byte(nil), pk.Payload...)
		d.hub.send(func(id Identity) (streamMsg, bool) {
			return streamMsg{"security", b}, id.MayRead(topic.SecurityEvents)
		})
	})
	if err != nil {
		d.log.Error("the live dashboard gets no security events", "err", err)
	} else {
		defer srv.Unsubscribe(EventsTopic, eventsSubscriptionID)
	}
	changes := d.edge.Watch(ctx)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-changes:
			if !ok {
				return
			}
			// Every durable change comes here, a counter-only write of each
			// device about once a second among them; the document is
			// encoded only for a stream that may read it, and then once.
			var b []byte
			encoded := false
			d.hub.send(func(id Identity) (streamMsg, bool) {
				if !mayReadTwin(id, c.Zone, c.Device) {
					return streamMsg{}, false
				}
				if !encoded {
					encoded = true
					var err error
					if b, err = withConnection(c.Doc, d.conns.State(c.Device)); err != nil {
						d.log.Warn("a twin change could not be streamed", "device", c.Device, "err", err)
					}
				}
				return streamMsg{"twin", b}, b != nil
			})
		case now := <-tick.C:
			sec := d.rates.tick(now)
			d.hub.send(func(id Identity) (streamMsg, bool) {
				b, err := json.Marshal(sec.point(d.zoneVisible(id)))
				return streamMsg{"rate", b}, err == nil
			})
			d.sendSeen(d.conns.takeSeen())
		}
	}
}
