package broker

import (
	"sync"

	"golang.org/x/time/rate"
)

// RateLimits holds one token bucket per MQTT client id (SPEC §4 step 2), so
// one noisy or hostile connection is refused cheaply, before any parsing or
// cryptography, without slowing anyone else.
type RateLimits struct {
	perSecond rate.Limit
	burst     int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRateLimits allows each client perSecond messages per second with bursts
// of burst. perSecond ≤ 0 disables limiting.
func NewRateLimits(perSecond float64, burst int) *RateLimits {
	if burst < 1 {
		burst = 1
	}
	return &RateLimits{perSecond: rate.Limit(perSecond), burst: burst, buckets: map[string]*rate.Limiter{}}
}

// Allow reports whether client may send one more message now.
func (r *RateLimits) Allow(client string) bool {
	if r == nil || r.perSecond <= 0 {
		return true
	}
	r.mu.Lock()
	b, ok := r.buckets[client]
	if !ok {
		b = rate.NewLimiter(r.perSecond, r.burst)
		r.buckets[client] = b
	}
	r.mu.Unlock()
	return b.Allow()
}

// Forget drops a disconnected client's bucket.
func (r *RateLimits) Forget(client string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.buckets, client)
	r.mu.Unlock()
}
