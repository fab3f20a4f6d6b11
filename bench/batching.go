package bench

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/signet-city/signet/broker"
)

// batchingMetrics are the counters Batching is made of.
var batchingMetrics = []string{broker.MetricVerifySignatures, broker.MetricVerifyBatches, broker.MetricVerifySingles}

// Batching is how a Signet broker's fast-path verifier grouped the
// signatures of one measured window, from its counters: per-signature
// cost falls with batch size, so it explains the verification CPU.
type Batching struct {
	// Signatures is the signatures decided.
	Signatures uint64 `json:"signatures"`
	// Batches is the Ed25519 batches of two or more.
	Batches uint64 `json:"batches"`
	// Singles is the signatures verified alone: a lone Ed25519 request
	// (a batch of one), another algorithm or a quarantined key.
	Singles uint64 `json:"singles"`
	// MeanBatch is Signatures over Batches plus Singles: signatures per
	// verification, one verified alone counting as a batch of one (0 if
	// none was decided).
	MeanBatch float64 `json:"mean_batch"`
}

// counterValues reads the batching counters from gathered families.
func counterValues(families []*dto.MetricFamily) map[string]uint64 {
	out := map[string]uint64{}
	for _, f := range families {
		for _, name := range batchingMetrics {
			if f.GetName() == name && len(f.GetMetric()) == 1 && f.GetMetric()[0].GetCounter() != nil {
				out[name] = uint64(f.GetMetric()[0].GetCounter().GetValue())
			}
		}
	}
	return out
}

// batchingBetween is what the counters counted between two readings.
func batchingBetween(before, after map[string]uint64) Batching {
	delta := func(name string) uint64 { return after[name] - min(after[name], before[name]) }
	b := Batching{Signatures: delta(broker.MetricVerifySignatures), Batches: delta(broker.MetricVerifyBatches), Singles: delta(broker.MetricVerifySingles)}
	if runs := b.Batches + b.Singles; runs > 0 {
		b.MeanBatch = float64(b.Signatures) / float64(runs)
	}
	return b
}
