package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/signing"
)

// VerifyMetrics are the verify path's Prometheus metrics. A nil
// *VerifyMetrics records nothing.
type VerifyMetrics struct {
	accepted  prometheus.Counter
	rejected  *prometheus.CounterVec
	latency   prometheus.Histogram
	signature prometheus.Histogram
	commit    prometheus.Histogram
}

// Names of the verify path's latency histograms, each also a native
// histogram (factor 1.1: quantiles within about 5%) beside its classic
// buckets, for scrapers that ask for them and for signet bench.
const (
	MetricVerifySeconds    = "signet_verify_seconds"
	MetricSignatureSeconds = "signet_signature_wait_seconds"
	MetricCommitSeconds    = "signet_commit_seconds"
)

// Names of the fast-path verifier's counters, which signet bench reads for
// the mean batch of each window.
const (
	MetricVerifySignatures = "signet_verify_signatures_total"
	MetricVerifyBatches    = "signet_verify_batches_total"
	MetricVerifySingles    = "signet_verify_singles_total"
	// MetricVerifyBatchSize is a histogram of signatures per verification
	// (a signature verified alone is a verification of one), in the
	// Verifier's size classes: buckets at 1, 2, 4, … 1024.
	MetricVerifyBatchSize = "signet_verify_batch_size"
)

// latencyHistogram is one of the verify path's latency histograms.
func latencyHistogram(name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: name, Help: help,
		Buckets:                         prometheus.ExponentialBuckets(50e-6, 2, 14), // 50µs .. ~0.4s
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  200, // 50 µs .. 10 s at factor 1.1 fits
		NativeHistogramMinResetDuration: time.Hour,
	})
}

// NewVerifyMetrics registers the metrics with reg.
func NewVerifyMetrics(reg prometheus.Registerer) *VerifyMetrics {
	m := &VerifyMetrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_messages_accepted_total",
			Help: "Signed messages that passed every check of SPEC §4 and were committed.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_messages_rejected_total",
			Help: "Messages refused, by the stable reason of SPEC §4.",
		}, []string{"reason"}),
		latency:   latencyHistogram(MetricVerifySeconds, "Time from PUBLISH arrival to verdict, commit included."),
		signature: latencyHistogram(MetricSignatureSeconds, "Time from asking the fast-path verifier to its verdict: the batching delay and the batch."),
		commit:    latencyHistogram(MetricCommitSeconds, "Time from a verified message to its durable commit (window, twin, store)."),
	}
	for _, r := range signing.Reasons { // every reason visible at 0 from the start
		m.rejected.WithLabelValues(string(r))
	}
	reg.MustRegister(m.accepted, m.rejected, m.latency, m.signature, m.commit)
	return m
}

// observe counts one verdict; reason "" means accepted.
func (m *VerifyMetrics) observe(reason signing.Reason, took time.Duration) {
	if m == nil {
		return
	}
	if reason == "" {
		m.accepted.Inc()
	} else {
		m.rejected.WithLabelValues(string(reason)).Inc()
	}
	m.latency.Observe(took.Seconds())
}

// observeSignature records how long one signature's verdict took.
func (m *VerifyMetrics) observeSignature(took time.Duration) {
	if m != nil {
		m.signature.Observe(took.Seconds())
	}
}

// observeCommit records one commit's latency.
func (m *VerifyMetrics) observeCommit(took time.Duration) {
	if m != nil {
		m.commit.Observe(took.Seconds())
	}
}

// RegisterVerifierMetrics exposes the fast-path verifier's counters.
func RegisterVerifierMetrics(reg prometheus.Registerer, v *signing.Verifier) {
	counter := func(name, help string, f func(signing.VerifierStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f(v.Stats())) })
	}
	reg.MustRegister(
		counter(MetricVerifySignatures, "Signatures decided by the fast-path verifier.", func(s signing.VerifierStats) uint64 { return s.Signatures }),
		counter(MetricVerifyBatches, "Ed25519 batches of two or more (signatures over batches plus singles is the mean batch).", func(s signing.VerifierStats) uint64 { return s.Batches }),
		counter(MetricVerifySingles, "Signatures verified alone (idle, other algorithms, quarantined keys).", func(s signing.VerifierStats) uint64 { return s.Singles }),
		counter("signet_verify_bisected_total", "Batches that failed and were split to find the bad signatures.", func(s signing.VerifierStats) uint64 { return s.Bisected }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_verify_queue_depth", Help: "Verification requests waiting."}, func() float64 { return float64(v.Stats().Queued) }),
		batchSizes{v: v, desc: prometheus.NewDesc(MetricVerifyBatchSize, "Signatures per verification (one verified alone counts as a verification of one): the cost per signature falls with it.", nil, nil)},
	)
}

// batchSizes exposes the Verifier's size classes (VerifierStats.BatchSizes)
// as a histogram whose buckets are the classes' upper bounds.
type batchSizes struct {
	v    *signing.Verifier
	desc *prometheus.Desc
}

// Describe sends the histogram's one description.
func (b batchSizes) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect sends the histogram as the Verifier counts it now.
func (b batchSizes) Collect(ch chan<- prometheus.Metric) {
	s := b.v.Stats()
	buckets := make(map[float64]uint64, signing.BatchSizeClasses-1)
	var count uint64
	for i, n := range s.BatchSizes {
		count += n
		if i < signing.BatchSizeClasses-1 { // the last class is +Inf's
			buckets[float64(uint64(1)<<i)] = count
		}
	}
	ch <- prometheus.MustNewConstHistogram(b.desc, count, float64(s.Signatures), buckets)
}
