package broker

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// PublishTwins publishes every durable twin change as retained JSON: the
// whole document of that version on $twin/{zone}/{device}, and each part on
// $twin/{zone}/{device}/{reported|desired|delta|meta} (docs/twins.md), each
// carrying the version it belongs to (twinMessage). It runs until ctx ends
// or the edge closes, beside the verify path, never on it: a message's
// PUBACK does not wait for twin publication. A change the watcher missed
// (it fell behind) is covered by the next change of the same device,
// because every publication carries the whole current document or part.
//
// One goroutine publishes in commit order, so each topic's versions only
// grow; a subscriber that must never combine parts of two versions reads
// the document topic, one message per version.
//
// The document changes only when the twin's version does (a state message
// or a command); telemetry and events move only the security counters,
// which are not in it. So a change whose version was already published is
// skipped: at city rates that is nearly every change, and republishing
// retained messages for each cost about 7% of the broker's CPU (profile of
// signet bench broker, strict).
func PublishTwins(ctx context.Context, edge *devices.Edge, publish Publisher, log *slog.Logger) {
	published := map[string]uint64{} // device -> version last published
	for ch := range edge.Watch(ctx) {
		if ch.Missed > 0 {
			log.Warn("twin publisher fell behind; later changes carry the current state", "missed", ch.Missed)
		}
		if v, ok := published[ch.Device]; ok && v == ch.Doc.Version {
			continue
		}
		published[ch.Device] = ch.Doc.Version
		for _, m := range twinMessages(ch.Zone, ch.Doc) {
			b, err := json.Marshal(m.body)
			if err == nil {
				err = publish(m.topic, b, true, 0)
			}
			if err != nil {
				log.Warn("publishing twin failed", "device", ch.Device, "topic", m.topic, "err", err)
			}
		}
	}
}

// twinDocument is what $twin/{zone}/{device} carries: the document of one
// version without its security counters, which move with every message,
// version or not (they are in GET /api/v1/twins/{device}).
type twinDocument struct {
	Device   string         `json:"device"`
	Zone     string         `json:"zone"`
	Kind     string         `json:"kind"`
	Version  uint64         `json:"version"`
	Reported map[string]any `json:"reported"`
	Desired  map[string]any `json:"desired"`
	Delta    map[string]any `json:"delta"`
	Meta     twin.Meta      `json:"meta"`
}

// twinMessage is one retained publication of a twin change.
type twinMessage struct {
	topic string
	body  any
}

// twinMessages are the publications of doc: the document first, then each
// part as {"version": N, "<part>": ...}, the document's own members, so a
// part read alone still says which version it belongs to.
func twinMessages(zone string, doc *twin.Document) []twinMessage {
	parts := map[string]any{
		"reported": doc.Reported,
		"desired":  doc.Desired,
		"delta":    doc.Delta,
		"meta":     doc.Meta,
	}
	out := []twinMessage{{topic.TwinDocument(zone, doc.Device), twinDocument{
		Device: doc.Device, Zone: zone, Kind: doc.Kind, Version: doc.Version,
		Reported: doc.Reported, Desired: doc.Desired, Delta: doc.Delta, Meta: doc.Meta,
	}}}
	for _, part := range topic.TwinParts {
		out = append(out, twinMessage{topic.Twin(zone, doc.Device, part), map[string]any{"version": doc.Version, part: parts[part]}})
	}
	return out
}
