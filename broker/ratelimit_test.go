package broker

import "testing"

func TestRateLimitsPerClient(t *testing.T) {
	r := NewRateLimits(0.001, 3) // refills once in 1000 s: no refill during the test
	for i := range 3 {
		if !r.Allow("a") {
			t.Fatalf("message %d of the burst refused", i+1)
		}
	}
	if r.Allow("a") {
		t.Fatal("message beyond the burst allowed")
	}
	if !r.Allow("b") {
		t.Fatal("another client was limited by a's bucket")
	}
	r.Forget("a")
	if !r.Allow("a") {
		t.Fatal("a fresh bucket after Forget refused")
	}
	if !NewRateLimits(0, 0).Allow("x") || !(*RateLimits)(nil).Allow("x") {
		t.Fatal("disabled limiter refused")
	}
}
