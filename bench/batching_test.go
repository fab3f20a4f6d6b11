package bench

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/signing"
)

func TestStageWindowCountsBatchesOfTheWindow(t *testing.T) {
	reg, _ := stageRegistry(t)
	counters := map[string]prometheus.Counter{}
	for _, name := range batchingMetrics {
		counters[name] = prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "test"})
		reg.MustRegister(counters[name])
	}
	// Before the window: a batch of 1000, which must not count.
	counters[broker.MetricVerifySignatures].Add(1000)
	counters[broker.MetricVerifyBatches].Add(1)
	counters[broker.MetricStoreTransactions].Add(5)
	counters[broker.MetricStoreChanges].Add(50)
	w := NewStageWindow(reg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	// In the window: 3 batches of 100 and 2 signatures alone.
	counters[broker.MetricVerifySignatures].Add(302)
	counters[broker.MetricVerifyBatches].Add(3)
	counters[broker.MetricVerifySingles].Add(2)
	// and 4 store transactions carrying 10 changes.
	counters[broker.MetricStoreTransactions].Add(4)
	counters[broker.MetricStoreChanges].Add(10)
	st, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	want := Batching{Signatures: 302, Batches: 3, Singles: 2, MeanBatch: 302.0 / 5, Transactions: 4, Changes: 10, ChangesPerCommit: 2.5}
	if st == nil || st.Batching != want {
		t.Fatalf("batching %+v, want %+v", st, want)
	}
}

func TestBatchingWithoutSignatures(t *testing.T) {
	reg, _ := stageRegistry(t) // histograms, no verifier counters
	w := NewStageWindow(reg)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || st.Batching != (Batching{}) {
		t.Errorf("stages %+v, want no batching (and no division by zero)", st)
	}
}

// TestStageWindowBatchingOfARealBroker reads the counters of a real
// strict broker over a closed-loop run: every message's signature is
// counted once, in batches or alone.
func TestStageWindowBatchingOfARealBroker(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 40, Messages: 10, Zones: 2})
	if err != nil {
		t.Fatal(err)
	}
	tg := startInProcess(t, ModeStrict, c)
	w := NewStageWindow(tg.Metrics())
	var startErr, stopErr error
	var st *Stages
	res, err := RunLoad(context.Background(), LoadOptions{
		Addr: tg.Addr(), Corpus: c, QoS: 1, Duration: 10 * time.Minute, SampleZone: c.Devices[0].Zone,
		Login:   Login{DeviceTokens: true, User: TargetGatewayUser, Password: "test-password", SubscriberUser: TargetAdminUser, SubscriberPassword: "test-password"},
		Started: func() { startErr = w.Start() },
		Ended:   func() { st, stopErr = w.Stop() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if startErr != nil || stopErr != nil {
		t.Fatalf("window: start %v, stop %v", startErr, stopErr)
	}
	if st == nil {
		t.Fatal("no stages from a strict broker")
	}
	b := st.Batching
	if b.Signatures < res.Acked || res.Acked == 0 {
		t.Errorf("%d signatures counted for %d messages acknowledged", b.Signatures, res.Acked)
	}
	if b.Batches+b.Singles == 0 || b.Batches*2+b.Singles > b.Signatures {
		t.Errorf("%+v: want at least one verification, batches of two or more", b)
	}
	if want := float64(b.Signatures) / float64(b.Batches+b.Singles); b.MeanBatch != want || b.MeanBatch < 1 {
		t.Errorf("mean batch %v, want %v (at least 1)", b.MeanBatch, want)
	}
	// The batch-size histogram counts the same verifications: the singles
	// in class 0, every batch in a class of its size.
	var batches uint64
	for _, n := range b.SizeClasses[1:] {
		batches += n
	}
	if b.SizeClasses[0] != b.Singles || batches != b.Batches {
		t.Errorf("size classes %v: want the %d singles in class 0 and the %d batches in the others", b.SizeClasses, b.Singles, b.Batches)
	}
	// Every device's state messages and leases are written through the
	// committer: at least one transaction, each carrying a change or more
	// (a state change, or a lease extension).
	if b.Transactions == 0 || b.Changes < b.Transactions || b.ChangesPerCommit != float64(b.Changes)/float64(b.Transactions) {
		t.Errorf("%+v: want transactions, each with at least one change, and their ratio", b)
	}
}

func TestFiguresTakeStrictsMeanBatch(t *testing.T) {
	rows := round(1000, 400, 500, 7)
	rows[2].MeanBatchAtMax, rows[2].MeanBatchAtHalfLoad = 180, 12
	rows[3].MeanBatchAtMax = 900 // the gateway row must not count
	r := &BrokerReport{QoS: 1}
	r.summarize([][]ConfigResult{rows, rows, rows})
	if r.MeanBatchAtMax != 180 || r.MeanBatchAtHalfLoad != 12 {
		t.Errorf("mean batch at max %v, at half load %v; want strict's 180 and 12", r.MeanBatchAtMax, r.MeanBatchAtHalfLoad)
	}
}

// TestBatchSizesOfAHistogram: cumulative buckets at 1, 2, 4, … come back
// as the counts of each size class, and what lies past the last bucket as
// the last class's.
func TestBatchSizesOfAHistogram(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: broker.MetricVerifyBatchSize, Help: "test", Buckets: prometheus.ExponentialBuckets(1, 2, signing.BatchSizeClasses-1)})
	for size, n := range map[float64]int{1: 3, 2: 1, 3: 2, 100: 4, 128: 1, 129: 2, 1024: 1, 2000: 5} {
		for range n {
			h.Observe(size)
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(h)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := sizeClasses{0: 3, 1: 1, 2: 2, 7: 5, 8: 2, 10: 1, 11: 5}
	if got := batchSizesOf(families); got != want {
		t.Errorf("classes %v, want %v", got, want)
	}
	if got := batchSizesOf(nil); got != (sizeClasses{}) {
		t.Errorf("no histogram: classes %v, want none", got)
	}
}
