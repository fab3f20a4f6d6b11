package bench

import (
	"math"

	dto "github.com/prometheus/client_model/go"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/signing"
)

// batchingMetrics are the counters Batching is made of.
var batchingMetrics = []string{broker.MetricVerifySignatures, broker.MetricVerifyBatches, broker.MetricVerifySingles, broker.MetricStoreTransactions, broker.MetricStoreChanges}

// Batching is how a Signet broker grouped the work of one measured window,
// from its counters: the fast-path verifier's signatures, whose cost per
// signature falls with batch size, so it explains the verification CPU;
// and the group committer's changes, whose fsyncs and allocations are paid
// once per transaction.
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
	// Transactions is the store transactions written, Changes the changes
	// they carried, and ChangesPerCommit the one over the other (0 if
	// none was written).
	Transactions     uint64  `json:"transactions"`
	Changes          uint64  `json:"changes"`
	ChangesPerCommit float64 `json:"changes_per_commit"`
	// SizeClasses counts the window's verifications by size class
	// (signing.BatchSizeClass: class 0 a signature alone, class i a batch
	// of more than 2^(i-1) and at most 2^i signatures), from the broker's
	// signet_verify_batch_size histogram.
	SizeClasses sizeClasses `json:"size_classes"`
}

// sizeClasses are verifications counted by size class.
type sizeClasses [signing.BatchSizeClasses]uint64

// minus is what c counted that b had not.
func (c sizeClasses) minus(b sizeClasses) sizeClasses {
	for i := range c {
		c[i] -= min(c[i], b[i])
	}
	return c
}

// batchSizesOf reads the size classes from the broker's batch-size
// histogram among families (zero without it): each bucket's upper bound
// 2^i is class i's, and the observations past the last bucket are the
// last class's.
func batchSizesOf(families []*dto.MetricFamily) sizeClasses {
	var c sizeClasses
	for _, f := range families {
		if f.GetName() != broker.MetricVerifyBatchSize || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram() == nil {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		var below uint64
		for _, b := range h.GetBucket() {
			ub := b.GetUpperBound()
			if ub < 1 || math.IsInf(ub, 1) {
				continue
			}
			i := signing.BatchSizeClass(int(ub))
			if i >= signing.BatchSizeClasses-1 {
				continue
			}
			c[i] = b.GetCumulativeCount() - min(b.GetCumulativeCount(), below)
			below = b.GetCumulativeCount()
		}
		c[signing.BatchSizeClasses-1] = h.GetSampleCount() - min(h.GetSampleCount(), below)
	}
	return c
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
	b.Transactions, b.Changes = delta(broker.MetricStoreTransactions), delta(broker.MetricStoreChanges)
	if b.Transactions > 0 {
		b.ChangesPerCommit = float64(b.Changes) / float64(b.Transactions)
	}
	return b
}
