package broker

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/signing"
)

// TestBatchSizeHistogram: signatures verified one at a time are
// verifications of one, in the histogram's first bucket and every bucket
// above it, and its sum is the signatures.
func TestBatchSizeHistogram(t *testing.T) {
	v := signing.NewVerifier(signing.VerifierConfig{})
	defer v.Close()
	k, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		msg := []byte{byte(i)}
		sig, _ := k.Sign(msg)
		if ok, err := v.Verify(context.Background(), k.Public(), msg, sig); !ok || err != nil {
			t.Fatalf("signature %d: %v %v", i, ok, err)
		}
	}
	reg := prometheus.NewRegistry()
	RegisterVerifierMetrics(reg, v)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != MetricVerifyBatchSize {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 3 || h.GetSampleSum() != 3 {
			t.Errorf("count %d, sum %v: want 3 verifications of 3 signatures", h.GetSampleCount(), h.GetSampleSum())
		}
		b := h.GetBucket()
		if len(b) != signing.BatchSizeClasses-1 || b[0].GetUpperBound() != 1 || b[len(b)-1].GetUpperBound() != 1024 {
			t.Fatalf("buckets %v: want 1, 2, 4, … 1024", b)
		}
		for _, bucket := range b {
			if bucket.GetCumulativeCount() != 3 {
				t.Errorf("bucket %v holds %d, want all 3", bucket.GetUpperBound(), bucket.GetCumulativeCount())
			}
		}
		return
	}
	t.Fatalf("no %s among the verifier's metrics", MetricVerifyBatchSize)
}
