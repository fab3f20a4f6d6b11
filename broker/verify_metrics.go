package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/signing"
)

// VerifyMetrics are the verify path's Prometheus metrics. A nil
// *VerifyMetrics records nothing.
type VerifyMetrics struct {
	accepted prometheus.Counter
	rejected *prometheus.CounterVec
	latency  prometheus.Histogram
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
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "signet_verify_seconds",
			Help:    "Time from PUBLISH arrival to verdict, commit included.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 14), // 50µs .. ~0.4s
		}),
	}
	for _, r := range signing.Reasons { // every reason visible at 0 from the start
		m.rejected.WithLabelValues(string(r))
	}
	reg.MustRegister(m.accepted, m.rejected, m.latency)
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
