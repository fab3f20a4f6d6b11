// Package bench measures Signet: signed corpora, load drivers, measurements
// and reports (DESIGN.md). store.go measures the devices group committer.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// StoreConfig describes a group-commit benchmark: for each device count and
// durability mode, Committers goroutines commit signed-state updates through
// a devices.Edge over a fresh bbolt store for Duration.
type StoreConfig struct {
	Devices    []int                // device counts, e.g. 1, 100, 10000
	Modes      []devices.Durability // strict, relaxed
	Duration   time.Duration        // per run
	Committers int                  // concurrent callers of Commit (0: 64)
	Dir        string               // where the temporary stores go ("": os.TempDir)
	// Open opens a fresh, empty store for one run in dir (nil: bbolt in
	// dir), e.g. JetStream on an embedded cluster; closing the store ends
	// what it started.
	Open func(ctx context.Context, dir string) (devices.Store, error)
	// Remove, if set, takes a run's devices out of its store again before
	// the store is closed, for a store that outlives the run (a NATS
	// cluster given by URL), so that the cluster is left as it was found.
	Remove func(ctx context.Context, s devices.Store, enrolled []devices.Device) error
}

// StoreResult is one run of the store benchmark.
type StoreResult struct {
	Devices       int     `json:"devices"`
	Mode          string  `json:"mode"`
	Committers    int     `json:"committers"`
	Commits       int     `json:"commits"`
	Seconds       float64 `json:"seconds"`
	CommitsPerSec float64 `json:"commits_per_sec"`
	P50Millis     float64 `json:"p50_ms"`
	P99Millis     float64 `json:"p99_ms"`
	Transactions  uint64  `json:"transactions"` // store transactions (fsyncs)
	// LeasesPerSec is the lease extensions the store took per second
	// (docs/counters.md): one per key per lease_block counters.
	LeasesPerSec float64 `json:"leases_per_sec"`
	MeanBatch    float64 `json:"mean_batch"` // commits per transaction
	// Late counts updates refused as replays because their counter fell
	// out of the window while they waited: with more committers than
	// devices, one committer can be overtaken by the window. They are not
	// in Commits.
	Late uint64 `json:"late"`
}

// MeasureStore runs every (device count, mode) pair in turn and calls done
// after each, for progress output.
func MeasureStore(ctx context.Context, cfg StoreConfig, done func(StoreResult)) ([]StoreResult, error) {
	if cfg.Committers <= 0 {
		cfg.Committers = 64
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("store bench: duration %v must be positive", cfg.Duration)
	}
	var out []StoreResult
	for _, n := range cfg.Devices {
		if n <= 0 {
			return nil, fmt.Errorf("store bench: device count %d must be positive", n)
		}
		for _, mode := range cfg.Modes {
			r, err := measureStoreOnce(ctx, cfg, n, mode)
			if err != nil {
				return out, err
			}
			out = append(out, r)
			if done != nil {
				done(r)
			}
		}
	}
	return out, nil
}

// countingStore counts store transactions, to report the mean batch size.
type countingStore struct {
	devices.Store
	commits, leases atomic.Uint64
}

// ExtendLeases counts the extensions and passes them on.
func (s *countingStore) ExtendLeases(ctx context.Context, l []devices.LeaseExtension, c []devices.Change) ([]error, error) {
	s.leases.Add(uint64(len(l)))
	return s.Store.ExtendLeases(ctx, l, c)
}

// Commit counts one transaction and passes it on.
func (s *countingStore) Commit(ctx context.Context, c []devices.Change) error {
	s.commits.Add(1)
	return s.Store.Commit(ctx, c)
}

func measureStoreOnce(ctx context.Context, cfg StoreConfig, n int, mode devices.Durability) (_ StoreResult, err error) {
	dir, err := os.MkdirTemp(cfg.Dir, "signet-bench-store-")
	if err != nil {
		return StoreResult{}, fmt.Errorf("store bench: %w", err)
	}
	defer os.RemoveAll(dir)
	open := cfg.Open
	if open == nil {
		open = func(_ context.Context, dir string) (devices.Store, error) {
			return boltstore.Open(filepath.Join(dir, "bench.db"), boltstore.Options{})
		}
	}
	bs, err := open(ctx, dir)
	if err != nil {
		return StoreResult{}, err
	}
	defer bs.Close()
	enrolled, kids, err := enrollStreetlights(ctx, bs, n)
	if err != nil {
		return StoreResult{}, err
	}
	if cfg.Remove != nil {
		// Also after a failed run, and after an interrupt: what was
		// enrolled must not stay behind in a shared store.
		defer func() {
			if rerr := cfg.Remove(context.WithoutCancel(ctx), bs, enrolled); rerr != nil {
				err = errors.Join(err, fmt.Errorf("store bench: removing the run's %d devices: %w", n, rerr))
			}
		}()
	}
	store := &countingStore{Store: bs}
	edge, err := devices.Open(ctx, store, devices.Options{Durability: mode})
	if err != nil {
		return StoreResult{}, err
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	counters := make([]atomic.Uint64, n)
	var next atomic.Uint64
	latencies := make([][]time.Duration, cfg.Committers)
	var late atomic.Uint64
	errs := make(chan error, cfg.Committers)
	var wg sync.WaitGroup
	start := time.Now()
	for g := range cfg.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			for runCtx.Err() == nil {
				i := next.Add(1) % uint64(n)
				c := counters[i].Add(1)
				u := devices.Update{KID: kids[i], Counter: c, Kind: devices.State, Patch: statePatch(c), TS: time.Now()}
				t0 := time.Now()
				_, err := edge.Commit(context.Background(), u)
				if signing.ReasonOf(err) == signing.ReasonReplay {
					late.Add(1)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("store bench: commit: %w", err)
					break
				}
				lat = append(lat, time.Since(t0))
			}
			latencies[g] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	closeErr := edge.Close(ctx)
	select {
	case err := <-errs:
		return StoreResult{}, err
	default:
	}
	if closeErr != nil {
		return StoreResult{}, closeErr
	}

	all := slices.Concat(latencies...)
	slices.Sort(all)
	r := StoreResult{
		Devices:       n,
		Mode:          mode.String(),
		Committers:    cfg.Committers,
		Commits:       len(all),
		Seconds:       elapsed.Seconds(),
		CommitsPerSec: float64(len(all)) / elapsed.Seconds(),
		P50Millis:     millis(percentile(all, 0.50)),
		P99Millis:     millis(percentile(all, 0.99)),
		Transactions:  store.commits.Load(),
		LeasesPerSec:  float64(store.leases.Load()) / elapsed.Seconds(),
		Late:          late.Load(),
	}
	if r.Transactions > 0 {
		r.MeanBatch = float64(r.Commits) / float64(r.Transactions)
	}
	return r, nil
}

// statePatch is a small reported-state merge patch, as a streetlight sends.
func statePatch(c uint64) []byte {
	return fmt.Appendf(nil, `{"on":true,"level":%d}`, c%101)
}

// enrollStreetlights registers n streetlights with fresh Ed25519 keys in one
// transaction and returns them and their kids. Their ids start with a
// random prefix of the run, so that runs can repeat against one shared
// store and never meet a device of an earlier run.
func enrollStreetlights(ctx context.Context, s devices.Store, n int) ([]devices.Device, [][]byte, error) {
	prefix, err := runPrefix()
	if err != nil {
		return nil, nil, err
	}
	kids := make([][]byte, n)
	b := devices.Batch{Devices: make([]devices.Device, n)}
	for i := range n {
		priv, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return nil, nil, err
		}
		pub := priv.Public()
		kids[i] = signing.KeyID(pub)
		b.Devices[i] = devices.Device{
			ID:   fmt.Sprintf("%s-sl-%05d", prefix, i),
			Zone: fmt.Sprintf("z%d", i%16),
			Kind: "streetlight",
			Keys: []devices.Key{{KID: kids[i], Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}},
		}
	}
	if err := s.Write(ctx, b); err != nil {
		return nil, nil, fmt.Errorf("store bench: enrolling %d devices: %w", n, err)
	}
	return b.Devices, kids, nil
}

// runPrefix is "bench-" and 8 random hex digits: a device id prefix
// (a-z, 0-9 and -) that no other run draws.
func runPrefix() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store bench: run prefix: %w", err)
	}
	return "bench-" + hex.EncodeToString(b[:]), nil
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
