package broker

import (
	"context"
	"log/slog"
	"strconv"

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
		msgs, err := twinMessages(ch.Zone, ch.Doc)
		if err != nil {
			log.Warn("encoding twin failed", "device", ch.Device, "err", err)
			continue
		}
		for _, m := range msgs {
			if err := publish(m.topic, m.body, true, 0); err != nil {
				log.Warn("publishing twin failed", "device", ch.Device, "topic", m.topic, "err", err)
			}
		}
	}
}

// twinMessage is one retained publication of a twin change.
type twinMessage struct {
	topic string
	body  []byte
}

// twinMessages are the publications of doc: the document first
// ({"device","zone","kind","version","reported","desired","delta","meta"},
// without the security counters, which move with every message, version
// or not; they are in GET /api/v1/twins/{device}), then each part as
// {"version": N, "<part>": ...}, the document's own members, so a part read
// alone still says which version it belongs to. Each part is encoded once
// and its bytes shared by the document and the part's own message.
func twinMessages(zone string, doc *twin.Document) ([]twinMessage, error) {
	parts, err := doc.Parts()
	if err != nil {
		return nil, err
	}
	whole := twin.AppendParts(doc.AppendHead(nil, zone), parts)
	out := []twinMessage{{topic.TwinDocument(zone, doc.Device), append(whole, '}')}}
	version := strconv.FormatUint(doc.Version, 10)
	for _, part := range parts.List() {
		body := make([]byte, 0, len(`{"version":,"":}`)+len(version)+len(part.Name)+len(part.JSON))
		body = append(append(append(body, `{"version":`...), version...), `,"`...)
		body = append(append(append(body, part.Name...), `":`...), part.JSON...)
		out = append(out, twinMessage{topic.Twin(zone, doc.Device, part.Name), append(body, '}')})
	}
	return out, nil
}
