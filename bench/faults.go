package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
)

// FaultOptions describes one run of the fault harness.
type FaultOptions struct {
	Binary  string // the signet binary run as "signet serve"
	Rounds  int    // SIGKILL rounds (at least 1)
	Devices int    // honest streetlights
	// Skip is how far every honest device moves its counter on each
	// (re)connect: twice the broker's lease block (2·B, B = 1024 unless the
	// broker is configured otherwise).
	Skip uint64
	// MaxKillAfter bounds the random moment of each kill, measured from the
	// start of the round's load (it is drawn uniformly from 50 ms to it).
	MaxKillAfter time.Duration
	// Rate is each honest device's messages per second during the load
	// (0: 100, half the broker's default per-client rate limit).
	Rate float64
	// Disk runs the two disk faults after the rounds (full disk,
	// read-only store directory).
	Disk bool
	Seed uint64 // 0: random
	// Dir holds the store and the fleet; "" makes a temporary one that is
	// removed afterwards.
	Dir string
	// Progress, if set, is told each round as it ends.
	Progress func(FaultRound)
}

// FaultRound is one SIGKILL round.
type FaultRound struct {
	Round int `json:"round"`
	// KillAfterMS is when the broker was killed, from the start of the load.
	KillAfterMS float64 `json:"kill_after_ms"`
	Sent        uint64  `json:"sent"`    // honest messages sent before the kill
	Acked       uint64  `json:"acked"`   // of them, PUBACK 0x00 before the kill
	Unacked     uint64  `json:"unacked"` // sent, no PUBACK: in flight at the kill
	Refused     uint64  `json:"refused"` // honest, refused before the kill (should be 0)
	// LiveReplays counts replays by the hostile client while the load ran
	// (each of a message the broker had just acknowledged), and
	// LiveReplaysAccepted those accepted (must be 0).
	LiveReplays         uint64 `json:"live_replays"`
	LiveReplaysAccepted uint64 `json:"live_replays_accepted"`
	// Restarted: the broker started on the store after the kill.
	Restarted bool `json:"restarted"`
	// Replayed is how many captured messages (acknowledged or not) the
	// hostile client sent after the restart; ReplaysAccepted of them were
	// accepted (must be 0).
	Replayed        uint64 `json:"replayed"`
	ReplaysAccepted uint64 `json:"replays_accepted"`
	// ReplaysAcceptedInFlight: of ReplaysAccepted, messages that were in
	// flight at the kill (sent, never acknowledged): a broker that leases
	// counters refuses them too, one that only stores what it accepted
	// takes each once.
	ReplaysAcceptedInFlight uint64 `json:"replays_accepted_in_flight"`
	// LostAcked counts acknowledged state updates the twin no longer holds
	// after the restart (must be 0).
	LostAcked uint64 `json:"lost_acked"`
	// HonestAfter and HonestRefused: messages the honest devices sent just
	// after the restart (skipping ahead), and how many were refused.
	HonestAfter   uint64 `json:"honest_after"`
	HonestRefused uint64 `json:"honest_refused_after_restart"`
}

// FaultReport is the result of a fault run.
type FaultReport struct {
	Machine Machine      `json:"machine"`
	Options FaultSummary `json:"options"`
	Rounds  []FaultRound `json:"rounds"`
	Disk    []DiskFault  `json:"disk_faults,omitempty"`
	// Totals over the rounds and the disk faults.
	ReplaysAccepted uint64 `json:"replays_accepted"`
	LostAcked       uint64 `json:"lost_acked"`
	HonestRefused   uint64 `json:"honest_refused_after_restart"`
	// HonestRefusedLoad: honest messages refused during the rounds' load,
	// before the kills (a broker that refuses honest devices fails them
	// too, so this should be 0 as well).
	HonestRefusedLoad uint64 `json:"honest_refused_load"`
	FailedStarts      int    `json:"failed_starts"`
}

// FaultSummary is the options as reported.
type FaultSummary struct {
	Rounds  int    `json:"rounds"`
	Devices int    `json:"devices"`
	Skip    uint64 `json:"skip"`
	Seed    uint64 `json:"seed"`
}

// Failed reports whether the run broke a reliability bar: a replay
// accepted, an acknowledged update lost, or a start that failed.
func (r *FaultReport) Failed() bool {
	return r.ReplaysAccepted > 0 || r.LostAcked > 0 || r.FailedStarts > 0
}

// DefaultLeaseSkip is 2·B for the default lease block B = 1024.
const DefaultLeaseSkip = 2 * 1024

// RunFaults runs the fault harness: flash, then o.Rounds times load, kill
// -9, restart and check; then the disk faults.
func RunFaults(ctx context.Context, o FaultOptions) (*FaultReport, error) {
	if o.Rounds < 1 {
		return nil, fmt.Errorf("faults: --rounds %d: want at least 1", o.Rounds)
	}
	if o.Binary == "" {
		return nil, errors.New("faults: no signet binary to run")
	}
	if o.Skip == 0 {
		o.Skip = DefaultLeaseSkip
	}
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.MaxKillAfter <= 0 {
		o.MaxKillAfter = 1500 * time.Millisecond
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "signet-faults-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		o.Dir = dir
	}
	site, err := flashSite(ctx, o.Dir, o.Devices)
	if err != nil {
		return nil, err
	}
	rep := &FaultReport{Machine: DescribeMachine(), Options: FaultSummary{Rounds: o.Rounds, Devices: o.Devices, Skip: o.Skip, Seed: o.Seed}}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5157))
	child, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config})
	if err != nil {
		return nil, fmt.Errorf("faults: first start: %w", err)
	}
	for i := 1; i <= o.Rounds; i++ {
		span := o.MaxKillAfter - 50*time.Millisecond
		killAfter := 50*time.Millisecond + time.Duration(rng.Int64N(int64(max(span, 1))))
		r, next, err := faultRound(ctx, o, site, child, i, killAfter)
		rep.Rounds = append(rep.Rounds, r)
		rep.add(r.ReplaysAccepted+r.LiveReplaysAccepted, r.LostAcked, r.HonestRefused, !r.Restarted)
		rep.HonestRefusedLoad += r.Refused
		if o.Progress != nil {
			o.Progress(r)
		}
		if err != nil {
			if next != nil {
				next.kill()
			}
			return rep, err
		}
		child = next
	}
	if err := child.stop(); err != nil {
		return rep, fmt.Errorf("faults: clean stop after the rounds: %w", err)
	}
	if o.Disk {
		for _, fault := range []func(context.Context, *faultSite, FaultOptions) (DiskFault, error){fullDisk, readOnlyStore} {
			d, err := fault(ctx, site, o)
			rep.Disk = append(rep.Disk, d)
			rep.add(d.ReplaysAccepted, d.LostAcked+d.LostEnrolled, 0, !d.Recovered)
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func (r *FaultReport) add(replays, lost, honestRefused uint64, failedStart bool) {
	r.ReplaysAccepted += replays
	r.LostAcked += lost
	r.HonestRefused += honestRefused
	if failedStart {
		r.FailedStarts++
	}
}

// faultRound runs honest load and a hostile replayer against child, kills
// it after killAfter, restarts it on the same store and checks the store.
// It returns the restarted broker.
func faultRound(ctx context.Context, o FaultOptions, site *faultSite, child *serveChild, round int, killAfter time.Duration) (FaultRound, *serveChild, error) {
	r := FaultRound{Round: round, KillAfterMS: float64(killAfter.Microseconds()) / 1000}
	resetAcked(site)
	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	results := make([]deviceCounts, len(site.devices))
	errs := make([]error, len(site.devices))
	live := newLiveReplayer(site, child.mqtt)
	// Each device keeps to o.Rate, below the broker's per-client rate
	// limit: an honest device that floods is refused as rate_limited.
	pace := time.NewTicker(time.Duration(float64(time.Second) / o.Rate / float64(len(site.devices))))
	defer pace.Stop()
	for i, d := range site.devices {
		wg.Go(func() {
			results[i], errs[i] = d.runHonest(load, child.mqtt, o.Skip, 0, live.feed, pace.C)
		})
	}
	liveDone := make(chan struct{})
	go func() { defer close(liveDone); live.run(load) }()
	timer := time.NewTimer(killAfter)
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		child.kill()
		return r, nil, ctx.Err()
	}
	child.kill() // SIGKILL: no shutdown, no final flush
	stopLoad()
	wg.Wait()
	<-liveDone
	for i, c := range results {
		r.Sent += c.sent
		r.Acked += c.acked
		r.Unacked += c.lost
		r.Refused += c.refused
		if errs[i] != nil && !errors.Is(errs[i], errConnectionLost) {
			return r, nil, fmt.Errorf("faults: round %d: device %s: %w", round, site.devices[i].id, errs[i])
		}
	}
	r.LiveReplays, r.LiveReplaysAccepted = live.sent.Load(), live.accepted.Load()

	next, err := startServe(ctx, childSpec{Binary: o.Binary, Config: site.config})
	if err != nil {
		return r, nil, fmt.Errorf("faults: round %d: restart after SIGKILL: %w", round, err)
	}
	r.Restarted = true
	// The twins first: a replay that were wrongly accepted could otherwise
	// hide a lost update behind its own counter.
	lost, err := lostAcked(ctx, next.http, site)
	if err != nil {
		return r, next, fmt.Errorf("faults: round %d: %w", round, err)
	}
	r.LostAcked = lost
	var all []captured
	for _, c := range results {
		all = append(all, c.capture...)
	}
	r.Replayed, r.ReplaysAccepted, r.ReplaysAcceptedInFlight, err = replayAll(ctx, next.mqtt, site, all)
	if err != nil {
		return r, next, fmt.Errorf("faults: round %d: replaying: %w", round, err)
	}
	r.HonestAfter, r.HonestRefused, err = honestBurst(ctx, next.mqtt, site, o.Skip, 4)
	if err != nil {
		if errors.Is(err, errConnRefused) {
			err = fmt.Errorf("%w (a device's connect token spends a counter, which must lie above the broker's restart floor: is --skip %d at least 2 x the broker's lease_block?)", err, o.Skip)
		}
		return r, next, fmt.Errorf("faults: round %d: honest devices after the restart: %w", round, err)
	}
	return r, next, nil
}

// honestBurst connects every device again (skipping ahead) and publishes
// n messages each, returning how many were sent and how many refused.
func honestBurst(ctx context.Context, addr string, site *faultSite, skip uint64, n int) (sent, refused uint64, err error) {
	c, err := loadBurst(ctx, addr, site, skip, n, false)
	return c.sent, c.refused, err
}

// replayAll sends every captured message again from the hostile gateway
// connection and counts the ones accepted (PUBACK 0x00).
// Of the accepted ones, unacked were never acknowledged to their device.
func replayAll(ctx context.Context, addr string, site *faultSite, msgs []captured) (sent, accepted, unacked uint64, err error) {
	cl, conn, err := dialMQTT5(ctx, addr, faultReplay, nil, faultReplay, []byte(site.replayPassword))
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	for _, m := range msgs {
		out, _ := publish5(ctx, cl, m.topic, m.payload)
		switch out {
		case pubLost:
			return sent, accepted, unacked, fmt.Errorf("replayer lost its connection after %d replays", sent)
		case pubAcked:
			accepted++
			if !m.acked {
				unacked++
			}
		}
		sent++
	}
	cl.Disconnect(&paho5.Disconnect{})
	return sent, accepted, unacked, nil
}

// liveReplayer is the hostile client during the load: it replays, on its
// own gateway session, messages the honest devices have already sent.
type liveReplayer struct {
	site     *faultSite
	addr     string
	mu       sync.Mutex
	queue    []captured
	wake     chan struct{}
	sent     atomic.Uint64
	accepted atomic.Uint64
}

func newLiveReplayer(site *faultSite, addr string) *liveReplayer {
	return &liveReplayer{site: site, addr: addr, wake: make(chan struct{}, 1)}
}

// feed queues a message to replay.
func (l *liveReplayer) feed(m captured) {
	l.mu.Lock()
	l.queue = append(l.queue, m)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run replays the queue, each message just after the broker acknowledged
// it to its device, until ctx ends or the broker dies.
func (l *liveReplayer) run(ctx context.Context) {
	cl, conn, err := dialMQTT5(ctx, l.addr, faultReplay+"-live", nil, faultReplay, []byte(l.site.replayPassword))
	if err != nil {
		return // killed before it connected: nothing replayed
	}
	defer conn.Close()
	for {
		l.mu.Lock()
		var m captured
		ok := len(l.queue) > 0
		if ok {
			m, l.queue = l.queue[0], l.queue[1:]
		}
		l.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-l.wake:
				continue
			}
		}
		out, _ := publish5(ctx, cl, m.topic, m.payload)
		if out == pubLost {
			return
		}
		l.sent.Add(1)
		if out == pubAcked {
			l.accepted.Add(1)
		}
	}
}
