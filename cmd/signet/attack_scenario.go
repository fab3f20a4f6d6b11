package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/image"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/spf13/cobra"
)

// honestFloor is the least share of honest messages the broker must take
// while a scenario runs: an attack on one device must not starve the rest.
const honestFloor = 0.999

// scenarioRisk names the risk each hostile kind exercises.
var scenarioRisk = map[attack.Kind]string{
	attack.KindReplay:            "tampered data",
	attack.KindTamper:            "tampered data",
	attack.KindForgedKey:         "unauthorized access",
	attack.KindForgedSignature:   "tampered data",
	attack.KindWrongTopic:        "tampered data",
	attack.KindWrongZone:         "leaked data",
	attack.KindGarbage:           "tampered data",
	attack.KindForgedCommand:     "forged control",
	attack.KindConflictingGreens: "forged control",
}

// scenarioRow is what one scenario measured.
type scenarioRow struct {
	Scenario    string  `json:"scenario"`
	Risk        string  `json:"risk"`
	Sent        int     `json:"sent"`
	Refused     int     `json:"refused"`
	Accepted    int     `json:"accepted"`
	HonestSent  int     `json:"honest_sent"`
	HonestAcked int     `json:"honest_acked"`
	HonestShare float64 `json:"honest_share"`
}

// scenarioFlags are the options of --scenario mode.
type scenarioFlags struct {
	name, json string
}

// addScenarioFlags registers --scenario and its companions.
func addScenarioFlags(cmd *cobra.Command, s *scenarioFlags) {
	f := cmd.Flags()
	f.StringVar(&s.name, "scenario", "", "run each --kind as a scenario with the honest fleet (the images that play no hostile part) publishing beside it, and report honest delivery; all or a kind name")
	f.StringVar(&s.json, "json", "", "with --scenario: also write the results as JSON to this file")
}

// runScenarios runs each kind as its own scenario, with the honest devices
// (every image that plays no hostile part) publishing real readings at QoS 1
// beside it; the honest share is the PUBACKs below 0x80 over messages sent.
func runScenarios(ctx context.Context, out io.Writer, o attackOptions) error {
	jsonPath := o.scen.json
	if o.scen.name != "all" {
		kinds, err := parseAttackKinds(o.scen.name)
		if err != nil {
			return err
		}
		o.kinds = kinds
	}
	ims, err := fleet.LoadImages(o.dir)
	if err != nil {
		return err
	}
	cast, err := castAttack(ims, o.device, o.dir)
	if err != nil {
		return err
	}
	var honest []*image.Image
	for _, im := range ims {
		if im != cast.victim && im != cast.signal {
			honest = append(honest, im)
		}
	}
	if len(honest) == 0 {
		return usagef("--scenario needs an image that plays no hostile part, for the honest fleet")
	}
	brokerURL := o.broker
	if brokerURL == "" {
		brokerURL = cast.victim.Broker
	}
	var rows []scenarioRow
	for _, k := range o.kinds {
		if why := cast.missing(k, o.dir); why != "" {
			fmt.Fprintf(out, "%-19s skipped: %s\n", k, why)
			continue
		}
		row, err := runScenario(ctx, o, cast, honest, brokerURL, k)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", k, err)
		}
		rows = append(rows, row)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\trisk\tsent\trefused\taccepted\thonest sent\thonest acked\thonest share")
	bad := 0
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.2f%%\n", r.Scenario, r.Risk, r.Sent, r.Refused, r.Accepted, r.HonestSent, r.HonestAcked, 100*r.HonestShare)
		if r.Accepted > 0 || r.HonestShare < honestFloor {
			bad++
		}
	}
	tw.Flush()
	if jsonPath != "" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if bad > 0 {
		return fmt.Errorf("attack: %d scenarios accepted a hostile message or kept under %.1f%% of honest traffic", bad, 100*honestFloor)
	}
	return nil
}

// runScenario runs kind k while the honest devices publish, and stops them
// once the hostile messages are answered.
func runScenario(ctx context.Context, o attackOptions, cast attackCast, honest []*image.Image, brokerURL string, k attack.Kind) (scenarioRow, error) {
	row := scenarioRow{Scenario: string(k), Risk: scenarioRisk[k]}
	boot := func(im *image.Image) (*simrt.Device, error) {
		if im == nil {
			return nil, nil
		}
		return fleet.FromImage(im, 1, &simrt.Stats{})
	}
	victim, err := boot(cast.victim)
	if err != nil {
		return row, err
	}
	other, err := boot(cast.other)
	if err != nil {
		return row, err
	}
	scene := attack.Scene{Victim: victim, Other: other}
	if k.NeedsTrafficSignal() {
		if scene.Victim, err = boot(cast.signal); err != nil {
			return row, err
		}
		scene.Other = nil
	}
	conn, err := attack.Dial(ctx, brokerURL, scene.Victim, scene.Victim.ID+"-attacker")
	if err != nil {
		return row, err
	}
	defer conn.Close()
	if k.NeedsSeen() {
		if scene.Seen, err = captureAccepted(ctx, conn, scene.Victim); err != nil {
			return row, err
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var honestErr error
	for _, im := range honest {
		d, err := boot(im)
		if err != nil {
			return row, err
		}
		c, err := attack.Dial(ctx, brokerURL, d, d.ID+"-honest")
		if err != nil {
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
					mu.Lock()
					honestErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	t, err := attack.Launch(ctx, conn, scene, k, o.count, tick.C)
	tick.Stop()
	close(stop)
	wg.Wait()
	if err != nil {
		return row, err
	}
	if honestErr != nil {
		return row, fmt.Errorf("honest fleet: %w", honestErr)
	}
	row.Sent, row.Refused, row.Accepted = t.Sent, t.Refused, t.Accepted
	if row.HonestSent > 0 {
		row.HonestShare = float64(row.HonestAcked) / float64(row.HonestSent)
	}
	return row, nil
}
