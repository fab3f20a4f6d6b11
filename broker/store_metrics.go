package broker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/devices"
)

// Names of the group committer's counters, which signet bench reads for
// the changes per store transaction of each window.
const (
	MetricStoreTransactions = "signet_store_transactions_total"
	MetricStoreChanges      = "signet_store_changes_total"
)

// RegisterStoreMetrics exports e's group commit counters: their ratio is
// how many changes share each transaction's fsyncs, the figure commit_delay
// moves.
func RegisterStoreMetrics(reg prometheus.Registerer, e *devices.Edge) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricStoreTransactions, Help: "Store transactions the group committer wrote."},
			func() float64 { n, _ := e.CommitCounts(); return float64(n) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: MetricStoreChanges, Help: "Changes those transactions carried (state changes, commands, lease extensions, counter windows, twins due)."},
			func() float64 { _, n := e.CommitCounts(); return float64(n) }),
	)
}
