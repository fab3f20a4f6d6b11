package broker

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
)

// PublishTwins publishes every durable twin change as retained JSON on
// $twin/{zone}/{device}/{reported|desired|delta|meta} (SPEC §1, §7) until ctx
// ends or the edge closes. It runs beside the verify path, never on it: a
// message's PUBACK does not wait for twin publication. A change the watcher
// missed (it fell behind) is covered by the next change of the same device,
// because every publication carries the whole current document part.
func PublishTwins(ctx context.Context, edge *devices.Edge, publish Publisher, log *slog.Logger) {
	for ch := range edge.Watch(ctx) {
		if ch.Missed > 0 {
			log.Warn("twin publisher fell behind; later changes carry the current state", "missed", ch.Missed)
		}
		parts := map[string]any{
			"reported": ch.Doc.Reported,
			"desired":  ch.Doc.Desired,
			"delta":    ch.Doc.Delta,
			"meta":     ch.Doc.Meta,
		}
		for _, part := range topic.TwinParts {
			b, err := json.Marshal(parts[part])
			if err == nil {
				err = publish(topic.Twin(ch.Zone, ch.Device, part), b, true, 0)
			}
			if err != nil {
				log.Warn("publishing twin failed", "device", ch.Device, "part", part, "err", err)
			}
		}
	}
}
