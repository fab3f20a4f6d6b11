package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/firmware-sim/attack"
)

// SoakOptions describes one soak run.
type SoakOptions struct {
	Binary   string        // the signet binary run as "signet serve"
	Duration time.Duration // how long the load runs
	Devices  int           // honest streetlights (0: 20)
	// Rate is each honest device's messages per second (0: 20).
	Rate float64
	// AttackRate is the hostile client's messages per second (0: 20).
	AttackRate float64
	// Sample is the time between two samples (0: 2 s).
	Sample time.Duration
	// Warmup is left out of the growth verdict (0: a fifth of Duration).
	Warmup time.Duration
	Dir    string // "" : a temporary folder, removed afterwards
	// Progress, if set, sees every sample as it is taken.
	Progress func(SoakSample)
}

// SoakSample is one reading of the broker child.
type SoakSample struct {
	AtSeconds  float64 `json:"at_s"`
	RSSBytes   uint64  `json:"rss_bytes"`        // VmRSS, /proc/PID/status
	HeapInuse  uint64  `json:"heap_inuse_bytes"` // go_memstats_heap_inuse_bytes
	Goroutines uint64  `json:"goroutines"`       // go_goroutines
	Acked      uint64  `json:"acked"`            // honest messages accepted so far
}

// SoakErrors counts everything that went wrong; every count must be 0.
type SoakErrors struct {
	HonestRefused   uint64 `json:"honest_refused"`   // an honest message refused
	HonestLost      uint64 `json:"honest_lost"`      // an honest message without PUBACK
	HonestSessions  uint64 `json:"honest_sessions"`  // an honest session that failed
	HostileAccepted uint64 `json:"hostile_accepted"` // a hostile message accepted
	HostileLost     uint64 `json:"hostile_lost"`     // a hostile message without PUBACK
	Attacker        uint64 `json:"attacker"`         // the attacker could not run
	Samples         uint64 `json:"samples"`          // a sample that could not be read
	BrokerExited    bool   `json:"broker_exited"`    // the broker died during the soak
}

// Total is the sum of the counts.
func (e SoakErrors) Total() uint64 {
	t := e.HonestRefused + e.HonestLost + e.HonestSessions + e.HostileAccepted + e.HostileLost + e.Attacker + e.Samples
	if e.BrokerExited {
		t++
	}
	return t
}

// Growth compares the medians of the first and last thirds of the samples
// taken after the warm-up.
type Growth struct {
	First float64 `json:"first_third_median"`
	Last  float64 `json:"last_third_median"`
	Bound float64 `json:"bound"` // Last may not exceed it
	Grew  bool    `json:"grew"`
}

// SoakReport is the result of a soak.
type SoakReport struct {
	Machine        Machine      `json:"machine"`
	Seconds        float64      `json:"seconds"`
	Devices        int          `json:"devices"`
	HonestAcked    uint64       `json:"honest_acked"`
	HostileSent    uint64       `json:"hostile_sent"`
	HostileRefused uint64       `json:"hostile_refused"`
	Samples        []SoakSample `json:"samples"`
	Errors         SoakErrors   `json:"errors"`
	WarmupSeconds  float64      `json:"warmup_s"`
	// RSS, Heap and Goroutines: the growth verdicts (nil: too few samples
	// after the warm-up, at least 6 are needed).
	RSS        *Growth `json:"rss,omitempty"`
	Heap       *Growth `json:"heap_inuse,omitempty"`
	Goroutines *Growth `json:"goroutines,omitempty"`
}

// Grew reports whether any of the growth verdicts found growth.
func (r *SoakReport) Grew() bool {
	for _, g := range []*Growth{r.RSS, r.Heap, r.Goroutines} {
		if g != nil && g.Grew {
			return true
		}
	}
	return false
}

// The growth bounds: the last third's median may exceed the first third's
// by 10% plus a floor (4 MiB of memory, 10 goroutines), so that a few
// buffers or a scheduler's idle goroutines are not growth while a leak of
// a few kilobytes a second over 30 minutes is.
const (
	growthRatio      = 1.10
	growthFloorBytes = 4 << 20
	growthFloorGo    = 10
)

// RunSoak runs honest and hostile load together against a real signet
// serve child for o.Duration, sampling its memory and goroutines.
func RunSoak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if o.Duration <= 0 {
		return nil, fmt.Errorf("soak: --duration %v must be positive", o.Duration)
	}
	if o.Binary == "" {
		return nil, errors.New("soak: no signet binary to run")
	}
	o.Devices = cmp.Or(o.Devices, 20)
	o.Rate = cmp.Or(o.Rate, 20)
	o.AttackRate = cmp.Or(o.AttackRate, 20)
	o.Sample = cmp.Or(o.Sample, 2*time.Second)
	o.Warmup = cmp.Or(o.Warmup, o.Duration/5)
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "signet-soak-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	site, err := flashSiteWith(ctx, o.Dir, o.Devices, 2)
	if err != nil {
		return nil, err
	}
	child, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config})
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer child.stop()
	rep := &SoakReport{Machine: DescribeMachine(), Devices: o.Devices, WarmupSeconds: o.Warmup.Seconds()}
	load, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	var errs struct {
		honestRefused, honestLost, honestSessions atomic.Uint64
	}
	var acked atomic.Uint64
	var wg sync.WaitGroup
	for _, d := range site.devices {
		wg.Go(func() {
			tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
			defer tick.Stop()
			// One session for the whole soak; a session that fails is an
			// error and the device starts another (a broker that drops
			// honest sessions must show in the counts, not end the soak).
			for load.Err() == nil {
				c, err := d.runHonest(load, child.mqtt, 0, 0, func(captured) { acked.Add(1) }, tick.C)
				errs.honestRefused.Add(c.refused)
				if load.Err() == nil {
					errs.honestLost.Add(c.lost)
				}
				if err != nil && load.Err() == nil {
					errs.honestSessions.Add(1)
				}
			}
		})
	}
	hostile := &soakAttacker{site: site, addr: child.mqtt, rate: o.AttackRate}
	wg.Go(func() { hostile.run(load) })

	start := time.Now()
	tick := time.NewTicker(o.Sample)
	defer tick.Stop()
	var sampleErrs uint64
	for sampling := true; sampling; {
		select {
		case <-load.Done():
			sampling = false
			continue
		case <-child.done:
			rep.Errors.BrokerExited = true
			stop()
			sampling = false
			continue
		case <-tick.C:
		}
		s, err := sampleChild(load, child)
		if err != nil {
			if load.Err() == nil {
				sampleErrs++
			}
			continue
		}
		s.AtSeconds, s.Acked = time.Since(start).Seconds(), acked.Load()
		rep.Samples = append(rep.Samples, s)
		if o.Progress != nil {
			o.Progress(s)
		}
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rep.HonestAcked = acked.Load()
	rep.HostileSent, rep.HostileRefused = hostile.sent, hostile.refused
	rep.Errors.HonestRefused = errs.honestRefused.Load()
	rep.Errors.HonestLost = errs.honestLost.Load()
	rep.Errors.HonestSessions = errs.honestSessions.Load()
	rep.Errors.HostileAccepted, rep.Errors.HostileLost, rep.Errors.Attacker = hostile.accepted, hostile.lost, hostile.failures
	rep.Errors.Samples = sampleErrs
	rep.judge()
	return rep, nil
}

// judge computes the growth verdicts from the samples after the warm-up.
func (r *SoakReport) judge() {
	var after []SoakSample
	for _, s := range r.Samples {
		if s.AtSeconds >= r.WarmupSeconds {
			after = append(after, s)
		}
	}
	if len(after) < 6 {
		return
	}
	third := len(after) / 3
	growth := func(of func(SoakSample) float64, floor float64) *Growth {
		med := func(ss []SoakSample) float64 {
			v := make([]float64, len(ss))
			for i, s := range ss {
				v[i] = of(s)
			}
			sort.Float64s(v)
			return v[len(v)/2]
		}
		g := &Growth{First: med(after[:third]), Last: med(after[len(after)-third:])}
		g.Bound = g.First*growthRatio + floor
		g.Grew = g.Last > g.Bound
		return g
	}
	r.RSS = growth(func(s SoakSample) float64 { return float64(s.RSSBytes) }, growthFloorBytes)
	r.Heap = growth(func(s SoakSample) float64 { return float64(s.HeapInuse) }, growthFloorBytes)
	r.Goroutines = growth(func(s SoakSample) float64 { return float64(s.Goroutines) }, growthFloorGo)
}

// soakAttacker logs in as a compromised device and sends every attack
// kind of firmware-sim/attack in turn, paced, for the whole soak.
type soakAttacker struct {
	site *faultSite
	addr string
	rate float64
	// Counts, read after run returns.
	sent, refused, accepted, lost, failures uint64
}

func (a *soakAttacker) run(ctx context.Context) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / a.rate))
	defer tick.Stop()
	for ctx.Err() == nil {
		if err := a.session(ctx, tick.C); err != nil && ctx.Err() == nil {
			a.failures++
			select { // a broken session: the next one at the next tick
			case <-tick.C:
			case <-ctx.Done():
			}
		}
	}
}

// session is one attacker session: it publishes one honest message of the
// victim (the "seen" message replays reuse), then rounds of every kind.
func (a *soakAttacker) session(ctx context.Context, pace <-chan time.Time) error {
	v, o := a.site.hostile[0], a.site.hostile[1]
	conn, err := attack.Dial(ctx, "tcp://"+a.addr, v, "soak-attacker")
	if err != nil {
		return err
	}
	defer conn.Close()
	seen, err := attack.Intercept(v, []byte(`{"on":true,"level":5}`))
	if err != nil {
		return err
	}
	code, err := conn.Publish(ctx, seen.Topic, seen.Message)
	if err != nil {
		return err
	}
	if attack.Refused(code) {
		return fmt.Errorf("soak attacker: the compromised device's own message was refused (%s)", attack.CodeName(code))
	}
	scene := attack.Scene{Victim: v, Other: o, Seen: seen}
	for ctx.Err() == nil {
		for _, k := range attack.Kinds() {
			if k == attack.KindConflictingGreens {
				continue // a traffic signal's attack; the soak's fleet is streetlights
			}
			t, err := attack.Launch(ctx, conn, scene, k, 1, pace)
			a.sent += uint64(t.Sent)
			a.refused += uint64(t.Refused)
			a.accepted += uint64(t.Accepted)
			if ctx.Err() == nil {
				a.lost += uint64(t.Unanswered)
			} else {
				a.sent -= uint64(t.Unanswered) // cut off by the end of the soak
			}
			if err != nil {
				return err
			}
			if t.Unanswered > 0 && ctx.Err() == nil {
				return errors.New("soak attacker: the session lost a PUBACK")
			}
		}
	}
	return nil
}
