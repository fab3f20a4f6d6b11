package devices_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// crashChildEnv, when set to a store path, turns the test binary into the
// crash test's child: it commits under load and prints every acknowledged
// commit until it is killed.
const crashChildEnv = "SIGNET_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		if err := crashChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const crashDevices = 8

// crashStartEnv carries each device's first counter to the child, as
// "kidhex=counter,...": where an honest device resumes after it reconnects.
const crashStartEnv = "SIGNET_CRASH_START"

// crashKind is what device i sends: state messages (a twin change durable
// before the acknowledgement) or telemetry (the lease alone).
func crashKind(i int) devices.UpdateKind {
	if i%2 == 0 {
		return devices.State
	}
	return devices.Telemetry
}

// crashChild opens the store and commits from one goroutine per device,
// from the counter the parent names (after the durable bound when it names
// none), printing "use kid counter" before each Commit and "ack kid
// counter" once it returns (strict mode: what must survive is durable by
// then). It runs until killed, or for a minute at most.
func crashChild(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := boltstore.Open(path, boltstore.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	snap, err := s.Load(ctx)
	if err != nil {
		return err
	}
	start := map[string]uint64{}
	for _, w := range snap.Windows {
		start[string(w.KID)] = w.HighWater + 1
	}
	if list := os.Getenv(crashStartEnv); list != "" {
		for _, kv := range strings.Split(list, ",") {
			kidHex, c, _ := strings.Cut(kv, "=")
			kid, err := signing.ParseKeyID(kidHex)
			if err != nil {
				return err
			}
			if start[string(kid)], err = strconv.ParseUint(c, 10, 64); err != nil {
				return err
			}
		}
	}
	e, err := devices.Open(ctx, s, devices.Options{Durability: devices.Strict})
	if err != nil {
		return err
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	say := func(what string, kid []byte, c uint64) {
		out.Lock()
		fmt.Fprintf(os.Stdout, "%s %s %d\n", what, signing.FormatKeyID(kid), c)
		out.Unlock()
	}
	for _, d := range snap.Devices {
		kid := d.Keys[0].KID
		i, _ := strconv.Atoi(strings.TrimPrefix(d.ID, "sl-"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := max(start[string(kid)], 1); ctx.Err() == nil; c++ {
				say("use", kid, c)
				if _, err := e.Commit(ctx, crashUpdate(kid, crashKind(i), c)); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					return
				}
				say("ack", kid, c)
			}
		}()
	}
	wg.Wait()
	return nil
}

// crashUpdate is the message of kind with counter c from kid.
func crashUpdate(kid []byte, kind devices.UpdateKind, c uint64) devices.Update {
	u := devices.Update{KID: kid, Counter: c, Kind: kind, TS: time.Now()}
	if kind == devices.State {
		u.Patch = fmt.Appendf(nil, `{"level":%d}`, c%101)
	}
	return u
}

// crashLog is what the parent learnt from every child so far, by kid hex.
type crashLog struct {
	acked map[string]uint64   // highest acknowledged counter
	total map[string]uint64   // acknowledged commits, all rounds
	used  map[string]uint64   // highest counter the device ever sent
	all   map[string][]uint64 // every acknowledged counter, to replay
}

// TestCrashSafety kills a committing child process with SIGKILL at random
// moments and checks, after each kill, that the store opens, that what was
// acknowledged is durable (the lease over every acknowledged counter, and
// the twin of state messages), that every acknowledged message replayed
// after the restart is refused, and that an honest device which skips 2·B
// ahead on reconnect is accepted at once (the next child starts there and
// stops at its first refusal).
func TestCrashSafety(t *testing.T) {
	const rounds = 24
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := filepath.Join(t.TempDir(), "crash.db")

	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := devices.NewRegistry(s, time.Now)
	device := map[string]string{} // kid hex -> device id
	kind := map[string]devices.UpdateKind{}
	for i := 0; i < crashDevices; i++ {
		k, _ := newKey(t)
		id := fmt.Sprintf("sl-%d", i)
		if err := reg.Enroll(context.Background(), devices.Device{ID: id, Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k}}); err != nil {
			t.Fatal(err)
		}
		device[signing.FormatKeyID(k.KID)] = id
		kind[signing.FormatKeyID(k.KID)] = crashKind(i)
	}
	s.Close()

	log := crashLog{acked: map[string]uint64{}, total: map[string]uint64{}, used: map[string]uint64{}, all: map[string][]uint64{}}
	for round := 0; round < rounds; round++ {
		killAfter := 1 + rng.IntN(300)
		n := runAndKill(t, path, killAfter, log)
		if n < killAfter {
			t.Fatalf("round %d: child acknowledged %d commits before it ended, want at least %d", round, n, killAfter)
		}
		checkDurable(t, round, path, device, kind, log)
	}
}

// skipAhead is where an honest device resumes after it reconnects: 2·B past
// the highest counter it ever sent.
func skipAhead(used uint64) uint64 { return used + 2*devices.DefaultLeaseBlock }

// runAndKill starts the child, reads killAfter acknowledgements, kills it
// with SIGKILL, and records every acknowledgement it printed, including those
// that raced with the kill. It returns how many it read.
func runAndKill(t *testing.T, path string, killAfter int, log crashLog) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	var starts []string
	for kidHex, used := range log.used {
		starts = append(starts, fmt.Sprintf("%s=%d", kidHex, skipAhead(used)))
	}
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashStartEnv+"="+strings.Join(starts, ","))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Bound the round even if the child stalls without printing.
	watchdog := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	sc := bufio.NewScanner(stdout)
	n := 0
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "use" && f[0] != "ack" {
			t.Fatalf("child printed %q", sc.Text())
		}
		kidHex := f[1]
		c, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if f[0] == "use" {
			log.used[kidHex] = max(log.used[kidHex], c)
			continue
		}
		log.acked[kidHex] = max(log.acked[kidHex], c)
		log.total[kidHex]++
		log.all[kidHex] = append(log.all[kidHex], c)
		n++
		if n == killAfter && !killed {
			cmd.Process.Kill() // SIGKILL
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child ended by itself after %d acknowledgements: %v\n%s", n, err, stderr.String())
	}
	return n
}

func checkDurable(t *testing.T, round int, path string, device map[string]string, kind map[string]devices.UpdateKind, log crashLog) {
	t.Helper()
	ctx := context.Background()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatalf("round %d: store does not open after SIGKILL: %v", round, err)
	}
	defer s.Close()
	snap, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	hw := map[string]uint64{}
	for _, w := range snap.Windows {
		hw[signing.FormatKeyID(w.KID)] = w.HighWater
	}
	e, err := devices.Open(ctx, s, devices.Options{})
	if err != nil {
		t.Fatalf("round %d: edge does not load after SIGKILL: %v", round, err)
	}
	defer e.Close(ctx)
	for kidHex, id := range device {
		kid, _ := signing.ParseKeyID(kidHex)
		acked, total := log.acked[kidHex], log.total[kidHex]
		if hw[kidHex] < acked {
			t.Fatalf("round %d: %s: durable lease %d < acknowledged %d", round, id, hw[kidHex], acked)
		}
		doc, _ := e.Twin(id)
		if doc.Security.LastCtr > hw[kidHex] {
			t.Fatalf("round %d: %s: twin last_ctr %d above the durable lease %d", round, id, doc.Security.LastCtr, hw[kidHex])
		}
		if kind[kidHex] == devices.State && (doc.Security.LastCtr < acked || doc.Security.Accepted < total) {
			t.Fatalf("round %d: %s: twin last_ctr %d accepted %d, acknowledged up to %d, %d in all",
				round, id, doc.Security.LastCtr, doc.Security.Accepted, acked, total)
		}
		for c := uint64(1); c <= hw[kidHex]; c++ {
			if err := e.PreCheck(kid, c); err == nil {
				t.Fatalf("round %d: %s: counter %d <= durable lease %d passes the pre-check again", round, id, c, hw[kidHex])
			}
		}
		// Replay every acknowledged message, through the whole commit.
		for _, c := range log.all[kidHex] {
			if _, err := e.Commit(ctx, crashUpdate(kid, kind[kidHex], c)); signing.ReasonOf(err) != signing.ReasonReplay {
				t.Fatalf("round %d: %s: acknowledged counter %d replayed after the kill: %v, want replay", round, id, c, err)
			}
		}
		if used := log.used[kidHex]; used > 0 {
			if err := e.PreCheck(kid, skipAhead(used)); err != nil {
				t.Fatalf("round %d: %s: honest device resuming at %d (2B past %d): %v", round, id, skipAhead(used), used, err)
			}
		}
	}
}
