package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/image"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
)

// honestFloor is the least share of honest readings a subscriber must
// receive while a scenario runs: an attack on one device must not starve
// the rest. floodFloor is the same for the floods, whose whole point is to
// spend the broker's capacity.
const (
	honestFloor = 0.999
	floodFloor  = 0.95
)

// scenarioFlags are the options of --scenario mode.
type scenarioFlags struct {
	name, json, report string
	spawn              bool
	serveBinary        string
	reader, auditor    string // USER:PASSWORD, for a broker we did not spawn
	token              string // bearer token of /metrics, for a broker we did not spawn
	rssLimitMiB        int
	flood              int
	eventsWait         time.Duration
}

// addScenarioFlags registers --scenario and its companions.
func addScenarioFlags(cmd *cobra.Command, s *scenarioFlags) {
	f := cmd.Flags()
	f.StringVar(&s.name, "scenario", "", "run scenarios with the honest fleet (the images that play no hostile part) publishing beside each: all, or a comma-separated list (see SCENARIOS)")
	f.StringVar(&s.json, "json", "", "with --scenario: also write the results as JSON to this file")
	f.StringVar(&s.report, "report", "", "with --scenario: write results.json, table.md and honest-delivery.png into this directory")
	f.BoolVar(&s.spawn, "spawn", false, "with --scenario: start a signet serve child on a fresh store with a flashed district and its users (IMAGES_DIR is then not given)")
	f.StringVar(&s.serveBinary, "serve-binary", "", "with --spawn: run this signet binary as the broker and to flash (default: this one)")
	f.StringVar(&s.reader, "reader", "", "USER:PASSWORD of a viewer of the honest devices' zone, to count honest readings delivered (--spawn makes one)")
	f.StringVar(&s.auditor, "auditor", "", "USER:PASSWORD of an auditor, to count the security events on $security/events (--spawn makes one)")
	f.StringVar(&s.token, "metrics-token", "", "bearer token of the broker's /metrics at --api, to sample its RSS")
	f.IntVar(&s.rssLimitMiB, "rss-limit", 256, "with --scenario: the broker's peak RSS (MiB) no scenario may exceed")
	f.IntVar(&s.flood, "flood", 2000, "with --scenario: connections or messages each flood sends")
	f.DurationVar(&s.eventsWait, "events-wait", 11*time.Second, "with --scenario: how long to wait after a scenario for the events that record its refusals (aggregates come when the broker's 10 s event window closes)")
}

// scenarioRow is what one scenario measured.
type scenarioRow struct {
	Scenario        string            `json:"scenario"`
	Risk            string            `json:"risk"`
	Flood           bool              `json:"flood,omitempty"`
	Sent            int               `json:"sent"`
	Refused         int               `json:"refused"`
	Accepted        int               `json:"accepted"`
	Unanswered      int               `json:"unanswered,omitempty"`
	Collateral      int               `json:"collateral,omitempty"`    // the attacker's own valid messages refused beside its poisoned ones
	Events          int               `json:"events"`                  // messages seen on $security/events (-1: not watched)
	EventsStandFor  uint64            `json:"events_stand_for"`        // refusals they record: an aggregate counts as its count
	EventReasons    map[string]uint64 `json:"event_reasons,omitempty"` // the same by reason
	HonestSent      int               `json:"honest_sent"`             // honest readings published
	HonestAcked     int               `json:"honest_acked"`            // of those, PUBACKed below 0x80
	HonestDelivered int               `json:"honest_delivered"`        // of those, received by the reader (-1: no reader)
	HonestShare     float64           `json:"honest_share"`            // delivered (or, with no reader, acked) over sent
	Floor           float64           `json:"floor"`                   // least honest share this scenario must keep
	PeakRSSMiB      float64           `json:"peak_rss_mib"`            // the broker's peak RSS during it (0: not measured)
	Pass            bool              `json:"pass"`                    // 0 accepted, honest share >= floor, RSS under the limit
	Note            string            `json:"note,omitempty"`
}

// scenarioEnv is what every scenario may use.
type scenarioEnv struct {
	o               attackOptions
	cast            attackCast
	honest          []*image.Image
	broker, api     string // tcp://host:port; http://host:port or ""
	reader, auditor *login
	rss             *rssMeter
	retired         map[attack.Kind]*retiredDevice // --spawn only
	// readerW and auditorW are the reader's and auditor's sessions, one
	// each for the whole run (a password login costs the broker an
	// argon2id hash: logging in per scenario would show in its RSS).
	readerW, auditorW *watcher
	commands          *commandKit  // --spawn only: the operator the command scenarios forge for
	consoleConn       *attack.Conn // the operator's console session (console)
}

// boot starts a device from its image (nil for nil).
func (e *scenarioEnv) boot(im *image.Image) (*simrt.Device, error) {
	if im == nil {
		return nil, nil
	}
	return fleet.FromImage(im, 1, &simrt.Stats{})
}

// runScenarios runs each scenario with the honest devices publishing real
// readings beside it, prints the table and writes the reports. It fails
// when a scenario breaks a bound.
func runScenarios(ctx context.Context, out io.Writer, o attackOptions) error {
	scens, err := selectScenarios(o.scen.name)
	if err != nil {
		return err
	}
	env := &scenarioEnv{o: o, rss: &rssMeter{}}
	if o.scen.spawn {
		bin := o.scen.serveBinary
		if bin == "" {
			if bin, err = os.Executable(); err != nil {
				return fmt.Errorf("spawn: finding this signet binary: %w", err)
			}
		}
		fmt.Fprintf(out, "spawning signet serve (%s) on a fresh store\n", bin)
		sp, err := spawnBroker(ctx, bin)
		if err != nil {
			return err
		}
		defer sp.stop()
		o.dir, env.broker, env.api = sp.images, "tcp://"+sp.child.MQTT(), "http://"+sp.child.HTTP()
		env.reader, env.auditor, env.retired, env.commands = sp.reader, sp.auditor, sp.retired, sp.commands
		env.rss.pid = sp.child.PID()
		fmt.Fprintf(out, "broker pid %d, mqtt %s, http %s\n", sp.child.PID(), sp.child.MQTT(), sp.child.HTTP())
	} else {
		if env.reader, err = parseLogin("--reader", o.scen.reader); err != nil {
			return err
		}
		if env.auditor, err = parseLogin("--auditor", o.scen.auditor); err != nil {
			return err
		}
		env.api = o.api
		if o.api != "" {
			env.rss.metrics, env.rss.token = strings.TrimSuffix(o.api, "/")+"/metrics", o.scen.token
		}
	}
	env.o = o
	ims, err := fleet.LoadImages(o.dir)
	if err != nil {
		return err
	}
	if env.cast, err = castAttack(ims, o.device, o.dir); err != nil {
		return err
	}
	for _, im := range ims {
		if im != env.cast.victim && im != env.cast.signal {
			env.honest = append(env.honest, im)
		}
	}
	if len(env.honest) == 0 {
		return usagef("--scenario needs an image that plays no hostile part, for the honest fleet")
	}
	if env.broker == "" {
		if env.broker = o.broker; env.broker == "" {
			env.broker = env.cast.victim.Broker
		}
	}
	if env.reader != nil {
		var filters []string
		for _, im := range env.honest {
			filters = append(filters, fmt.Sprintf("city/%s/%s/tele/#", im.Zone, im.Device))
		}
		if env.readerW, err = watch(ctx, env.broker, env.reader, "attack-reader", filters); err != nil {
			return fmt.Errorf("honest reader: %w", err)
		}
		defer env.readerW.close()
	}
	if env.auditor != nil {
		if env.auditorW, err = watch(ctx, env.broker, env.auditor, "attack-auditor", []string{"$security/events"}); err != nil {
			return fmt.Errorf("auditor: %w", err)
		}
		defer env.auditorW.close()
	}
	defer func() {
		if env.consoleConn != nil {
			env.consoleConn.Close()
		}
	}()
	var rows []scenarioRow
	for _, sc := range scens {
		if why := sc.missing(env); why != "" {
			fmt.Fprintf(out, "%-24s skipped: %s\n", sc.name, why)
			continue
		}
		fmt.Fprintf(out, "%-24s running\n", sc.name)
		row, err := runScenario(ctx, env, sc)
		if errors.Is(err, errSkip) {
			fmt.Fprintf(out, "%-24s skipped: %v\n", sc.name, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc.name, err)
		}
		rows = append(rows, row)
		if ctx.Err() != nil {
			break
		}
	}
	printScenarioTable(out, rows)
	if err := writeScenarioReports(o.scen, rows); err != nil {
		return err
	}
	var bad []string
	for _, r := range rows {
		if !r.Pass {
			bad = append(bad, r.Scenario)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("attack: %d scenarios broke a bound (a hostile message accepted, honest delivery under its floor, or RSS over %d MiB): %s", len(bad), o.scen.rssLimitMiB, strings.Join(bad, ", "))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(out, "every scenario held: 0 accepted, honest delivery at or above its floor, peak RSS under %d MiB\n", o.scen.rssLimitMiB)
	return nil
}

// hostileResult is what a scenario's attacker saw.
type hostileResult struct {
	sent, refused, accepted, unanswered int
	// collateral is the attacker's own valid messages the broker refused
	// (poisoned batches: one bad signature must not sink the batch).
	collateral int
	note       string
}

// runScenario runs sc while the honest devices publish, and measures.
func runScenario(ctx context.Context, env *scenarioEnv, sc scenario) (scenarioRow, error) {
	row := scenarioRow{Scenario: sc.name, Risk: sc.risk, Flood: sc.flood, Floor: honestFloor, Events: -1, HonestDelivered: -1}
	if sc.flood {
		row.Floor = floodFloor
	}
	reader, auditor := env.readerW, env.auditorW
	if reader != nil {
		reader.reset()
	}
	if auditor != nil {
		auditor.reset()
	}
	env.rss.start()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var honestErr error
	for _, im := range env.honest {
		d, err := env.boot(im)
		if err != nil {
			close(stop)
			env.rss.end()
			return row, err
		}
		c, err := attack.Dial(ctx, env.broker, d, d.ID+"-honest")
		if err != nil {
			close(stop)
			wg.Wait()
			env.rss.end()
			return row, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			// Publish first, then wait: every scenario has honest traffic
			// however quickly its hostile messages are answered.
			for first := true; ; first = false {
				if !first {
					select {
					case <-stop:
						return
					case <-ctx.Done():
						return
					case <-tick.C:
					}
				}
				msg, err := attack.Capture(d, time.Now())
				if err == nil {
					var code byte
					code, err = c.Publish(ctx, msg.Topic, msg.Message)
					mu.Lock()
					row.HonestSent++
					if err == nil && !attack.Refused(code) {
						row.HonestAcked++
					}
					mu.Unlock()
				}
				if err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						honestErr = err
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	h, err := sc.run(ctx, env)
	close(stop)
	wg.Wait()
	peak := env.rss.end()
	if err != nil {
		return row, err
	}
	if honestErr != nil {
		return row, fmt.Errorf("honest fleet: %w", honestErr)
	}
	row.Sent, row.Refused, row.Accepted, row.Unanswered, row.Note = h.sent, h.refused, h.accepted, h.unanswered, h.note
	row.Collateral = h.collateral
	row.PeakRSSMiB = float64(peak) / (1 << 20)
	if reader != nil {
		// Every acknowledged reading is on its way to the reader; wait
		// for them (a deadline, not a sleep: it returns as soon as all came).
		row.HonestDelivered, _ = reader.waitFor(row.HonestAcked, 10*time.Second)
	}
	if auditor != nil {
		// One event per refusal, or, past the per-source burst, one
		// aggregate that counts the rest when the source's window closes:
		// wait until they stand for every refusal, or --events-wait.
		row.Events, row.EventsStandFor = auditor.waitStands(uint64(h.refused), env.o.scen.eventsWait)
		row.EventReasons = auditor.byReason()
	}
	delivered := row.HonestDelivered
	if delivered < 0 {
		delivered = row.HonestAcked
	}
	if row.HonestSent > 0 {
		row.HonestShare = float64(delivered) / float64(row.HonestSent)
	}
	limit := float64(env.o.scen.rssLimitMiB)
	row.Pass = row.Accepted == 0 && row.Collateral == 0 && row.HonestShare >= row.Floor && row.PeakRSSMiB <= limit && ctx.Err() == nil
	return row, nil
}

// errSkip marks a scenario the target cannot support.
var errSkip = errors.New("skipped")
