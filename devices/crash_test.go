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

// crashChild opens the store, resumes every device's counter after its
// durable high-water mark, and commits state updates from one goroutine per
// device, printing "kid counter" after each Commit returns (strict mode: the
// commit is durable by then). It runs until killed, or for a minute at most.
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
	hw := map[string]uint64{}
	for _, w := range snap.Windows {
		hw[string(w.KID)] = w.HighWater
	}
	e, err := devices.Open(ctx, s, devices.Options{Durability: devices.Strict})
	if err != nil {
		return err
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for _, d := range snap.Devices {
		kid := d.Keys[0].KID
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := hw[string(kid)] + 1; ctx.Err() == nil; c++ {
				patch := fmt.Sprintf(`{"level":%d}`, c%101)
				if _, err := e.Commit(ctx, devices.Update{KID: kid, Counter: c, Kind: devices.State, Patch: []byte(patch), TS: time.Now()}); err != nil {
					fmt.Fprintln(os.Stderr, "commit:", err)
					return
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "%s %d\n", signing.FormatKeyID(kid), c)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	return nil
}

// TestCrashSafety kills a committing child process with SIGKILL at random
// moments and checks, after each kill, that the store opens, that every
// acknowledged commit is durable (high-water mark, twin) and that no counter
// at or below a durable high-water mark is accepted again (SPEC §6).
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
	for i := 0; i < crashDevices; i++ {
		k, _ := newKey(t)
		id := fmt.Sprintf("sl-%d", i)
		if err := reg.Enroll(context.Background(), devices.Device{ID: id, Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k}}); err != nil {
			t.Fatal(err)
		}
		device[signing.FormatKeyID(k.KID)] = id
	}
	s.Close()

	acked := map[string]uint64{} // kid hex -> highest acknowledged counter
	total := map[string]uint64{} // kid hex -> acknowledged commits, all rounds
	for round := 0; round < rounds; round++ {
		killAfter := 1 + rng.IntN(300)
		n := runAndKill(t, path, killAfter, acked, total)
		if n < killAfter {
			t.Fatalf("round %d: child acknowledged %d commits before it ended, want at least %d", round, n, killAfter)
		}
		checkDurable(t, round, path, device, acked, total)
	}
}

// runAndKill starts the child, reads killAfter acknowledgements, kills it
// with SIGKILL, and records every acknowledgement it printed, including those
// that raced with the kill. It returns how many it read.
func runAndKill(t *testing.T, path string, killAfter int, acked, total map[string]uint64) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
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
		if len(f) != 2 {
			t.Fatalf("child printed %q", sc.Text())
		}
		c, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked[f[0]] = max(acked[f[0]], c)
		total[f[0]]++
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

func checkDurable(t *testing.T, round int, path string, device map[string]string, acked, total map[string]uint64) {
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
		if hw[kidHex] < acked[kidHex] {
			t.Fatalf("round %d: %s: durable high-water %d < acknowledged %d", round, id, hw[kidHex], acked[kidHex])
		}
		doc, _ := e.Twin(id)
		if doc.Security.LastCtr < acked[kidHex] || doc.Security.Accepted < total[kidHex] {
			t.Fatalf("round %d: %s: twin last_ctr %d accepted %d, acknowledged up to %d, %d in all",
				round, id, doc.Security.LastCtr, doc.Security.Accepted, acked[kidHex], total[kidHex])
		}
		if doc.Security.LastCtr != hw[kidHex] {
			t.Fatalf("round %d: %s: twin last_ctr %d but high-water %d: twin and window not written together", round, id, doc.Security.LastCtr, hw[kidHex])
		}
		for c := uint64(1); c <= hw[kidHex]; c++ {
			if err := e.PreCheck(kid, c); err == nil {
				t.Fatalf("round %d: %s: counter %d <= durable high-water %d accepted again", round, id, c, hw[kidHex])
			}
		}
	}
}
