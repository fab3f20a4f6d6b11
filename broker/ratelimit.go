package broker

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"golang.org/x/time/rate"
)

// RateLimits holds one token bucket per authenticated identity (step 2 of
// the verification order, docs/protocol.md), so one noisy or hostile
// sender is refused cheaply, before any parsing or cryptography, without
// slowing anyone else. A bucket belongs to the identity, not the
// connection: every connection of one device or user draws on it, and it
// outlives reconnects. The table is bounded: a bucket unused for the idle
// time is forgotten (least recently used first), and while the table is
// full of buckets in use a new identity is refused, as over its rate,
// rather than let the table grow.
type RateLimits struct {
	off       atomic.Bool // perSecond ≤ 0: no limit (read without the lock)
	perSecond rate.Limit  // with burst: under mu (SetRate changes them)
	burst     int
	size      int
	idle      time.Duration
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*list.Element // key -> element of lru holding a *bucket
	lru     *list.List               // front: used most recently
}

// bucket is one identity's token bucket.
type bucket struct {
	key  string
	lim  *rate.Limiter
	used time.Time
}

// NewRateLimits allows each identity perSecond messages per second with
// bursts of burst, keeping at most size buckets (≤ 0: DefaultRateTableSize),
// each for idle after its last use (≤ 0: DefaultRateIdleSeconds).
// perSecond ≤ 0 disables limiting.
func NewRateLimits(perSecond float64, burst, size int, idle time.Duration) *RateLimits {
	if burst < 1 {
		burst = 1
	}
	if size <= 0 {
		size = DefaultRateTableSize
	}
	if idle <= 0 {
		idle = DefaultRateIdleSeconds * time.Second
	}
	r := &RateLimits{perSecond: rate.Limit(perSecond), burst: burst, size: size, idle: idle, now: time.Now,
		buckets: map[string]*list.Element{}, lru: list.New()}
	r.off.Store(perSecond <= 0)
	return r
}

// Allow reports whether the identity key may send one more message now.
func (r *RateLimits) Allow(key string) bool {
	if r == nil || r.off.Load() {
		return true
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for e := r.lru.Back(); e != nil && now.Sub(e.Value.(*bucket).used) >= r.idle; e = r.lru.Back() {
		r.lru.Remove(e)
		delete(r.buckets, e.Value.(*bucket).key)
	}
	e, ok := r.buckets[key]
	if !ok {
		if r.lru.Len() >= r.size {
			return false
		}
		e = r.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(r.perSecond, r.burst)})
		r.buckets[key] = e
	}
	r.lru.MoveToFront(e)
	b := e.Value.(*bucket)
	b.used = now
	return b.lim.AllowN(now, 1)
}

// Len is how many buckets the table holds.
func (r *RateLimits) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// rateKey is whose bucket a message of cl counts against: its authenticated
// identity, or its client id when it has none (no IdentityLookup).
func (s sender) rateKey(cl *mqtt.Client) string {
	if s.known {
		return s.id.key()
	}
	return "client:" + cl.ID
}
