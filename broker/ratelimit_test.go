package broker

import (
	"testing"
	"time"
)

func TestRateLimitsPerIdentity(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := NewRateLimits(0.001, 3, 2, time.Minute) // refills once in 1000 s
	r.now = func() time.Time { return now }
	for i := range 3 {
		if !r.Allow("device:a") {
			t.Fatalf("message %d of the burst refused", i+1)
		}
	}
	if r.Allow("device:a") {
		t.Fatal("message beyond the burst allowed")
	}
	if !r.Allow("device:b") {
		t.Fatal("another identity was limited by a's bucket")
	}
	// The table holds two buckets, both in use: a third identity waits.
	if r.Allow("device:c") || r.Len() != 2 {
		t.Fatalf("a third bucket in a table of two (len %d)", r.Len())
	}
	// Within the idle time a's bucket is kept, still empty.
	now = now.Add(59 * time.Second)
	if r.Allow("device:a") {
		t.Fatal("a's bucket was reset before its idle time")
	}
	// b has been idle a minute: forgotten, and c gets its place.
	now = now.Add(time.Second)
	if !r.Allow("device:c") || r.Len() != 2 {
		t.Fatalf("c refused after b's bucket expired (len %d)", r.Len())
	}
	if !NewRateLimits(0, 0, 0, 0).Allow("x") || !(*RateLimits)(nil).Allow("x") {
		t.Fatal("disabled limiter refused")
	}
}
