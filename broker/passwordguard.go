package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrWrongPassword is a login whose name or password is wrong. It does not
// say which: an unknown name costs the same hash as a known one.
var ErrWrongPassword = errors.New("wrong user name or password")

// ErrHashesBusy is a login refused without hashing because every hash slot
// and every waiting place is taken, or the address already holds its share.
var ErrHashesBusy = errors.New("too many logins are being checked; try again shortly")

// BackoffError is a login refused without hashing because the address or
// the name failed recently.
type BackoffError struct {
	// What is "address" or "name": which of the two is backing off.
	What string
	// RetryAfter is how long the back-off still lasts.
	RetryAfter time.Duration
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("too many failed logins from this %s; try again in %s", e.What, e.RetryAfter.Round(time.Second))
}

// PasswordGuard checks passwords for MQTT and HTTP logins alike, so that
// guessing costs the guesser and not the broker: argon2id runs at most
// MaxConcurrentHashes at a time with a bounded queue; failures back off
// per remote address and per user name (exponential, capped), and while
// one backs off its logins are refused without hashing; a name that
// belongs to no user is hashed against a decoy of the same parameters, so
// its answer takes as long as a real user's and names no user.
//
// Per-name back-off would let an attacker lock a user out by failing on
// purpose, so an address where that name logged in successfully within
// TrustedAddressTTL is exempt from it (OWASP's "device cookie" idea, keyed
// by address); its own address back-off still applies. A user on a new
// address during an attack gets in once the capped back-off has passed.
type PasswordGuard struct {
	limits AccessLimits
	decoy  string // PHC string with users' parameters that no password matches
	now    func() time.Time
	slots  chan struct{}

	mu       sync.Mutex
	admitted int            // logins holding or waiting for a slot
	perAddr  map[string]int // the same per address
	addrFail map[string]*failures
	nameFail map[string]*failures
	trusted  map[string]time.Time // name "\x00" address -> until

	hashes   atomic.Int64 // hashes started
	inFlight atomic.Int64
	peak     atomic.Int64 // most hashes ever running at once
	refused  atomic.Int64 // logins refused without hashing
	// onHash, if set, runs in each hash slot before the hash (tests).
	onHash atomic.Pointer[func(remote, name string)]
}

// failures is one address's or name's run of failed logins.
type failures struct {
	n     int
	until time.Time // refused without hashing until then
}

// NewPasswordGuard returns a guard with the given limits (zero fields take
// their defaults) for these users; the decoy takes the parameters of the
// first user with a password hash.
func NewPasswordGuard(limits AccessLimits, users []User) *PasswordGuard {
	limits = limits.withDefaults()
	g := &PasswordGuard{
		limits: limits, now: time.Now, slots: make(chan struct{}, limits.MaxConcurrentHashes),
		perAddr: map[string]int{}, addrFail: map[string]*failures{}, nameFail: map[string]*failures{}, trusted: map[string]time.Time{},
	}
	for _, u := range users {
		if u.PasswordHash != "" {
			g.decoy = decoyHash(u.PasswordHash)
			break
		}
	}
	if g.decoy == "" {
		g.decoy = decoyHash("")
	}
	return g
}

// GuardStats are the guard's counters.
type GuardStats struct {
	Hashes   int64 // argon2id hashes started (decoys included)
	InFlight int64 // hashes running now
	Peak     int64 // most hashes that ever ran at once
	Waiting  int64 // logins admitted and not yet finished (running or queued)
	Refused  int64 // logins refused without hashing (back-off or no room)
}

// Stats returns the counters.
func (g *PasswordGuard) Stats() GuardStats {
	g.mu.Lock()
	waiting := int64(g.admitted)
	g.mu.Unlock()
	return GuardStats{Hashes: g.hashes.Load(), InFlight: g.inFlight.Load(), Peak: g.peak.Load(), Waiting: waiting, Refused: g.refused.Load()}
}

// Check decides one login of name from remote (host:port) with password
// against phc, the user's hash; phc "" is a name with no password (no such
// user, or one who logs in otherwise), checked against the decoy. It
// returns nil when the password matches, ErrWrongPassword, ErrHashesBusy,
// a *BackoffError, or ctx's error if ctx ends while waiting for a slot.
func (g *PasswordGuard) Check(ctx context.Context, remote, name, password, phc string) error {
	addr, name := addressKey(remote), nameKey(name)
	now := g.now()
	g.mu.Lock()
	if err := g.backingOff(addr, name, now); err != nil {
		g.mu.Unlock()
		g.refused.Add(1)
		return err
	}
	if g.admitted >= g.limits.MaxConcurrentHashes+g.limits.MaxWaitingHashes || (g.limits.MaxHashesPerAddress > 0 && g.perAddr[addr] >= g.limits.MaxHashesPerAddress) {
		g.mu.Unlock()
		g.refused.Add(1)
		return ErrHashesBusy
	}
	g.admitted++
	g.perAddr[addr]++
	g.mu.Unlock()
	defer g.leave(addr)

	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-g.slots }()
	// Failures may have landed while this login waited: look again, so a
	// queue filled before the first failure does not hash on.
	g.mu.Lock()
	err := g.backingOff(addr, name, g.now())
	g.mu.Unlock()
	if err != nil {
		g.refused.Add(1)
		return err
	}

	good := g.hash(remote, name, password, phc)
	now = g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if good {
		delete(g.addrFail, addr)
		g.remember(g.trusted, name+"\x00"+addr, now.Add(g.limits.TrustedAddressTTL), now)
		return nil
	}
	g.fail(g.addrFail, addr, g.limits.AddressBackoffBase, g.limits.AddressBackoffMax, now)
	g.fail(g.nameFail, name, g.limits.NameBackoffBase, g.limits.NameBackoffMax, now)
	return ErrWrongPassword
}

// hash runs one argon2id in a slot; phc "" or an unreadable phc is
// checked against the decoy, which no password matches.
func (g *PasswordGuard) hash(remote, name, password, phc string) bool {
	n := g.inFlight.Add(1)
	defer func() {
		if g.inFlight.Add(-1) == 0 && hashMemoryKiB(phc, g.decoy) >= collectAfterHashKiB {
			// A hash's memory is garbage once it returns, but a collection
			// that ran during the hash (its own allocation often starts
			// one) found it live and set the next heap goal from it: at
			// gc_percent 1000, eleven times 64 MiB over the broker's own
			// heap, which the heap then grows into, fresh pages and all,
			// before it collects again. The last hash to finish collects
			// once, so that the goal comes from the broker's heap again.
			runtime.GC()
		}
	}()
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	g.hashes.Add(1)
	if f := g.onHash.Load(); f != nil {
		(*f)(remote, name)
	}
	if phc != "" {
		if good, err := CheckPassword(phc, password); err == nil {
			return good
		}
	}
	CheckPassword(g.decoy, password)
	return false
}

// collectAfterHashKiB is the hash memory from which a hash is followed by
// a collection (hash): below it, what the hash leaves in the heap goal is
// small beside the broker's own heap.
const collectAfterHashKiB = 8 * 1024

// hashMemoryKiB is the argon2id memory a check of phc costs (the decoy's,
// as hash falls back to it, when phc is empty or unreadable).
func hashMemoryKiB(phc, decoy string) uint32 {
	if h, err := parsePHC(phc); err == nil {
		return h.memoryKiB
	}
	h, _ := parsePHC(decoy)
	return h.memoryKiB
}

// leave gives back an admitted login's place.
func (g *PasswordGuard) leave(addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admitted--
	if g.perAddr[addr]--; g.perAddr[addr] <= 0 {
		delete(g.perAddr, addr)
	}
}

// backingOff returns a *BackoffError when addr, or name from an address
// it has not logged in from, failed recently. Call with g.mu held.
func (g *PasswordGuard) backingOff(addr, name string, now time.Time) error {
	if f, ok := g.addrFail[addr]; ok && now.Before(f.until) {
		return &BackoffError{What: "address", RetryAfter: f.until.Sub(now)}
	}
	if f, ok := g.nameFail[name]; ok && now.Before(f.until) {
		if until, ok := g.trusted[name+"\x00"+addr]; !ok || !now.Before(until) {
			return &BackoffError{What: "name", RetryAfter: f.until.Sub(now)}
		}
	}
	return nil
}

// fail counts one failure of key and sets its back-off: base, doubled per
// failure, capped at max. A run of failures is forgotten once the key has
// been quiet for max after its back-off ended. Call with g.mu held.
func (g *PasswordGuard) fail(table map[string]*failures, key string, base, max time.Duration, now time.Time) {
	f, ok := table[key]
	if ok && now.After(f.until.Add(max)) {
		ok = false
	}
	if !ok {
		g.makeRoom(table, max, now)
		f = &failures{}
		table[key] = f
	}
	f.n++
	wait := max
	if f.n < 32 && base<<(f.n-1) < max && base<<(f.n-1) > 0 {
		wait = base << (f.n - 1)
	}
	f.until = now.Add(wait)
}

// makeRoom keeps a failure table within MaxTracked: expired runs go first,
// then an arbitrary one. New entries come only from hashed failures, so the
// table fills no faster than the hash budget allows. Call with g.mu held.
func (g *PasswordGuard) makeRoom(table map[string]*failures, max time.Duration, now time.Time) {
	if len(table) < g.limits.MaxTracked {
		return
	}
	for k, f := range table {
		if now.After(f.until.Add(max)) {
			delete(table, k)
		}
	}
	for k := range table {
		if len(table) < g.limits.MaxTracked {
			break
		}
		delete(table, k)
	}
}

// remember records a trusted name and address, within MaxTracked. Call
// with g.mu held.
func (g *PasswordGuard) remember(table map[string]time.Time, key string, until, now time.Time) {
	if _, ok := table[key]; !ok && len(table) >= g.limits.MaxTracked {
		for k, u := range table {
			if !now.Before(u) {
				delete(table, k)
			}
		}
		for k := range table {
			if len(table) < g.limits.MaxTracked {
				break
			}
			delete(table, k)
		}
	}
	table[key] = until
}

// nameKey is how the back-off tables hold a name: as itself when it is as
// short as a user name may be, else as its SHA-256, so a guesser's long
// names (an MQTT username may be 64 KiB) cost the tables no more than
// short ones.
func nameKey(name string) string {
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// addressKey is the part of a remote address that back-off counts: the IP
// address, or for IPv6 its /64, which one host usually holds whole
// (RFC 4291 §2.5.4 interface identifiers are 64 bits).
func addressKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil {
		return host
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// decoyHash returns a PHC string with the parameters of phc (or of
// HashPassword when phc is not one) and a random salt and hash: checking
// any password against it costs the same argon2id as the real hash and
// never matches.
func decoyHash(phc string) string {
	h, err := parsePHC(phc)
	if err != nil {
		h = phcHash{memoryKiB: argonMemoryKiB, time: argonTime, threads: argonThreads, sum: make([]byte, argonKeyLen)}
	}
	h.salt, h.sum = make([]byte, 16), make([]byte, len(h.sum))
	rand.Read(h.salt)
	rand.Read(h.sum)
	return h.String()
}

// PasswordGuard returns the guard of the broker's password logins (for
// tools and tests in the same process: its Stats).
func (s *Server) PasswordGuard() *PasswordGuard { return s.logins }

// RegisterPasswordGuardMetrics exposes the guard's counters on /metrics:
// how many password hashes ran, how many run now, and how many logins were
// refused without one.
func RegisterPasswordGuardMetrics(reg prometheus.Registerer, g *PasswordGuard) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_login_hashes_total", Help: "Password hashes run for logins (decoys for unknown names included)."},
			func() float64 { return float64(g.hashes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_login_hashes_running", Help: "Password hashes running now."},
			func() float64 { return float64(g.inFlight.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_login_refused_total", Help: "Logins refused without a hash (back-off, or no hash slot free)."},
			func() float64 { return float64(g.refused.Load()) }),
	)
}
