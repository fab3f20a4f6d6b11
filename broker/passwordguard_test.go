package broker

import (
	"context"
	"errors"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheapHash is an argon2id PHC string of password with small parameters,
// so that the back-off table below runs many hashes quickly.
func cheapHash(password string) string {
	salt := []byte("0123456789abcdef")
	return phcHash{memoryKiB: 64, time: 1, threads: 1, salt: salt, sum: argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)}.String()
}

// TestPasswordGuardBackoff walks the back-off edge by edge on a fake clock:
// it doubles per failure from base to max, refuses without hashing while
// it lasts, is forgotten after a quiet max, and a user's own address is
// exempt from its name's back-off but not from its own.
func TestPasswordGuardBackoff(t *testing.T) {
	phc := cheapHash("right")
	now := time.Unix(1_000_000, 0)
	g := NewPasswordGuard(AccessLimits{AddressBackoffBase: time.Second, AddressBackoffMax: 8 * time.Second,
		NameBackoffBase: time.Second, NameBackoffMax: 4 * time.Second, TrustedAddressTTL: time.Hour}, []User{{Name: "u", PasswordHash: phc}})
	g.now = func() time.Time { return now }
	ctx := context.Background()
	check := func(remote, name, pass string) error {
		return g.Check(ctx, remote, name, pass, map[string]string{"u": phc}[name])
	}
	if err := check("10.0.0.1:1", "u", "right"); err != nil {
		t.Fatalf("first login: %v", err)
	}
	steps := []struct {
		advance      time.Duration
		remote, pass string
		want         string // "", "wrong", "address", "name"
		hashes       int64  // after the step
	}{
		{0, "10.0.0.9:1", "x", "wrong", 2},   // address and name back off 1 s
		{0, "10.0.0.9:2", "x", "address", 2}, // same address, another port
		{0, "10.0.0.8:1", "x", "name", 2},    // another address: the name backs off
		{0, "10.0.0.1:2", "right", "", 3},    // the user's own address is exempt
		{999 * time.Millisecond, "10.0.0.9:1", "x", "address", 3},
		{time.Millisecond, "10.0.0.9:1", "x", "wrong", 4}, // 1 s passed: hashed; now 2 s
		{1999 * time.Millisecond, "10.0.0.9:1", "x", "address", 4},
		{time.Millisecond, "10.0.0.9:1", "x", "wrong", 5}, // now 4 s
		{4 * time.Second, "10.0.0.9:1", "x", "wrong", 6},  // now 8 s (the cap)
		{8 * time.Second, "10.0.0.9:1", "x", "wrong", 7},  // still 8 s
		{8*time.Second - time.Millisecond, "10.0.0.9:1", "x", "address", 7},
		{8*time.Second + 2*time.Millisecond, "10.0.0.9:1", "x", "wrong", 8}, // quiet for max after the end: 1 s again
		{time.Second, "10.0.0.9:1", "right", "", 9},                         // right password from a failed address: logs in, clears it
		{0, "10.0.0.9:1", "y", "wrong", 10},                                 // from 1 s again
		{0, "[2001:db8::1]:5", "x", "name", 10},                             // IPv6, name backing off
		{4 * time.Second, "[2001:db8::1]:5", "x", "wrong", 11},
		{0, "[2001:db8::2]:6", "x", "address", 11}, // the same /64
		{0, "[2001:db8:0:1::2]:6", "x", "name", 11},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		err := check(s.remote, "u", s.pass)
		var backoff *BackoffError
		got := ""
		switch {
		case err == nil:
		case errors.Is(err, ErrWrongPassword):
			got = "wrong"
		case errors.As(err, &backoff):
			got = backoff.What
		default:
			got = err.Error()
		}
		if got != s.want || g.Stats().Hashes != s.hashes {
			t.Fatalf("step %d (%+v): got %q with %d hashes, want %q with %d", i, s, got, g.Stats().Hashes, s.want, s.hashes)
		}
	}
	// Unknown names are hashed against the decoy, with the users' parameters.
	before := g.Stats().Hashes
	if err := g.Check(ctx, "10.0.0.7:1", "nobody", "right", ""); !errors.Is(err, ErrWrongPassword) || g.Stats().Hashes != before+1 {
		t.Fatalf("unknown name: %v, %d hashes, want wrong password after one hash", err, g.Stats().Hashes-before)
	}
	d, _ := parsePHC(g.decoy)
	if p, _ := parsePHC(phc); d.memoryKiB != p.memoryKiB || d.time != p.time || d.threads != p.threads || len(d.sum) != len(p.sum) {
		t.Fatalf("decoy %s does not have the parameters of %s", g.decoy, phc)
	}
}

// TestPasswordGuardTablesStayBounded: failures from more addresses than
// max_tracked keep each table at max_tracked.
func TestPasswordGuardTablesStayBounded(t *testing.T) {
	g := NewPasswordGuard(AccessLimits{MaxTracked: 8}, []User{{Name: "u", PasswordHash: cheapHash("right")}})
	for i := range 50 {
		g.Check(context.Background(), "10.1.0."+string(rune('0'+i%10))+string(rune('0'+i/10))+":1", "n"+string(rune('a'+i)), "x", "")
	}
	if len(g.addrFail) > 8 || len(g.nameFail) > 8 {
		t.Fatalf("tables hold %d addresses and %d names, want at most 8", len(g.addrFail), len(g.nameFail))
	}
	long := strings.Repeat("n", 60000)
	g.Check(context.Background(), "10.2.0.1:1", long, "x", "")
	for name := range g.nameFail {
		if len(name) > 71 {
			t.Fatalf("the name table holds a %d-byte key", len(name))
		}
	}
	if err := g.Check(context.Background(), "10.2.0.2:1", long, "x", ""); err == nil || !strings.Contains(err.Error(), "name") {
		t.Fatalf("the long name from another address: %v, want its name back-off", err)
	}
}

// TestPasswordHashLeavesNoHeapGoalBehind: a login's argon2id memory (64
// MiB) is garbage once the hash returns, and the collection that its own
// allocation starts finds it live; the guard collects again once the hash
// is done, so that the heap goal is not left at gc_percent times that
// memory (which the broker's heap would then grow into).
func TestPasswordHashLeavesNoHeapGoalBehind(t *testing.T) {
	const percent = 1000 // the broker's default (gcpolicy.go)
	defer debug.SetGCPercent(debug.SetGCPercent(percent))
	phc, err := HashPassword("right")
	if err != nil {
		t.Fatal(err)
	}
	g := NewPasswordGuard(AccessLimits{}, []User{{Name: "u", PasswordHash: phc}})
	if err := g.Check(context.Background(), "10.0.0.1:1", "u", "right", phc); err != nil {
		t.Fatalf("login: %v", err)
	}
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(goal)
	inflated := uint64(1+percent/100) * argonMemoryKiB << 10
	if got := goal[0].Value.Uint64(); got >= inflated {
		t.Fatalf("heap goal %d MiB after a login, not under %d MiB: the hash's %d MiB still counts in it", got>>20, inflated>>20, argonMemoryKiB>>10)
	}
}
