package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/image"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
)

func newSimCmd() *cobra.Command {
	var rate float64
	var duration, rebootEvery time.Duration
	var metrics, ca string
	cmd := &cobra.Command{
		Use:   "sim IMAGES_DIR [--rate 1] [--duration 60s] [--reboot-every 0]",
		Short: "Run a fleet of flashed devices against their broker",
		Long: `Boot every *.img in IMAGES_DIR as a device in this process (one MQTT
connection each), run its model --rate times per second, and sign and publish
what it produces. A live progress line on stderr shows messages sent,
acknowledged, rejected and failed, and the rate; a summary follows at the end.

--reboot-every kills and boots each device at that interval (its memory is
dropped; only the image and the counter file survive), to exercise counter
persistence: a rebooted device must never reuse a counter. Ctrl-C stops early.

Rejected: the devices speak MQTT 3.1.1, which has no reason codes, so a
message the broker refused is acknowledged like any other. With --metrics
(the broker's Prometheus endpoint, http://HOST:PORT/metrics of its HTTP
address) the sim reads signet_messages_rejected_total before it starts, on
every progress line and at the end (once the broker has decided on every
acknowledged message), and shows the difference, with the reasons in the
summary. Those counters are the broker's, for every client: the count is the
fleet's own only while the fleet is the broker's only publisher. Without
--metrics the sim uses the broker's HTTP address recorded in the images
(signet flash --api), when they all name the same one; otherwise it shows
"rejected n/a".`,
		Example: "  signet sim images/ --rate 2 --duration 5m\n  signet sim images/ --reboot-every 30s\n  signet sim images/ --metrics http://127.0.0.1:8080/metrics",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rate <= 0 || rate > 1000 {
				return usagef("--rate must be between 0 and 1000 messages per second per device")
			}
			if duration <= 0 {
				return usagef("--duration must be positive")
			}
			if metrics != "" {
				if err := fleet.ValidMetricsURL(metrics); err != nil {
					return usagef("--metrics: %v", err)
				}
			}
			ims, err := fleet.LoadImages(args[0])
			if err != nil {
				return err
			}
			if ca != "" {
				if err := overrideCA(ims, ca); err != nil {
					return err
				}
			}
			if metrics == "" {
				metrics = imagesMetricsURL(ims)
			}
			return runSim(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), ims, simOptions{
				interval: time.Duration(float64(time.Second) / rate), duration: duration, rebootEvery: rebootEvery, metrics: metrics,
			})
		},
	}
	cmd.Flags().Float64Var(&rate, "rate", 1, "model steps (messages) per second per device")
	cmd.Flags().DurationVar(&duration, "duration", time.Minute, "how long to run")
	cmd.Flags().DurationVar(&rebootEvery, "reboot-every", 0, "reboot each device at this interval (0: never)")
	cmd.Flags().StringVar(&metrics, "metrics", "", "the broker's /metrics URL, to count rejected messages (default: from the images' api, else none: rejected n/a)")
	cmd.Flags().StringVar(&ca, "ca", "", "PEM CA bundle every device trusts for an ssl:// or tls:// broker, instead of its image's ca")
	return cmd
}

// overrideCA makes the CA bundle in file the one every image trusts, for
// this run only (the images are not rewritten).
func overrideCA(ims []*image.Image, file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	for _, im := range ims {
		if err := im.SetCA(b); err != nil {
			return fmt.Errorf("--ca %s: %w", file, err)
		}
	}
	return nil
}

// imagesMetricsURL is the /metrics URL of the broker HTTP address that every
// image records (signet flash --api), or "" when one lacks it or they differ.
func imagesMetricsURL(ims []*image.Image) string {
	api := ims[0].API
	for _, im := range ims {
		if im.API == "" || im.API != api {
			return ""
		}
	}
	return strings.TrimSuffix(api, "/") + "/metrics"
}

// simOptions are sim's settings after validation.
type simOptions struct {
	interval, duration, rebootEvery time.Duration
	metrics                         string // the broker's /metrics URL; "" for none
}

func runSim(ctx context.Context, out, progress io.Writer, ims []*image.Image, o simOptions) error {
	interval, rebootEvery := o.interval, o.rebootEvery
	rejections, err := watchRejections(ctx, o.metrics)
	if err != nil {
		return err
	}
	scrapeCtx := ctx // the progress line's last scrape may outlive the run
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	stats := &simrt.Stats{}
	var boots sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, len(ims))
	for i, im := range ims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				d, err := fleet.FromImage(im, uint64(i+1), stats) // a boot: counter reread from its file
				if err != nil {
					errs <- err
					return
				}
				n, _ := boots.LoadOrStore(im.Device, new(int))
				*(n.(*int))++
				life := ctx
				var stop context.CancelFunc = func() {}
				if rebootEvery > 0 {
					life, stop = context.WithTimeout(ctx, rebootEvery)
				}
				err = d.Run(life, interval)
				stop()
				if err != nil && ctx.Err() == nil && life.Err() == nil {
					errs <- fmt.Errorf("device %s: %w", im.Device, err)
					return
				}
				if rebootEvery == 0 {
					return
				}
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastSent uint64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var firstErr error
loop:
	for {
		select {
		case err := <-errs:
			if firstErr == nil {
				firstErr = err
				cancel()
			}
		case <-done:
			break loop
		case <-tick.C:
			sent := stats.Sent.Load()
			fmt.Fprintf(progress, "\rsim: %d devices  %5.0fs  sent %d  acked %d  rejected %s  failed %d  %.0f msg/s   ",
				len(ims), time.Since(start).Seconds(), sent, stats.Acked.Load(), rejections.now(scrapeCtx), stats.Failed.Load(), float64(sent-lastSent))
			lastSent = sent
		}
	}
	fmt.Fprintln(progress)
	elapsed := time.Since(start).Seconds()
	rejected, byReason := rejections.final(stats.Acked.Load())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	totalBoots := 0
	boots.Range(func(_, v any) bool { totalBoots += *(v.(*int)); return true })
	fmt.Fprintf(out, "devices %d  boots %d  sent %d  acked %d  rejected %s  failed %d  %.0f msg/s  heap %.0f MiB\n",
		len(ims), totalBoots, stats.Sent.Load(), stats.Acked.Load(), rejected, stats.Failed.Load(),
		float64(stats.Sent.Load())/elapsed, float64(ms.HeapAlloc)/(1<<20))
	if byReason != "" {
		fmt.Fprintf(out, "rejected by reason: %s\n", byReason)
	}
	return firstErr
}

// simRejections counts the broker's refusals since the sim started, from
// its /metrics (see the sim's --help for why and what the count covers).
// A nil *simRejections (no --metrics) reports "n/a".
type simRejections struct {
	url    string
	client *http.Client
	base   fleet.Verdicts
}

// watchRejections takes the baseline scrape; an unreachable endpoint is an
// error before any device boots.
func watchRejections(ctx context.Context, metricsURL string) (*simRejections, error) {
	if metricsURL == "" {
		return nil, nil
	}
	r := &simRejections{url: metricsURL, client: &http.Client{Timeout: 2 * time.Second}}
	base, err := fleet.ScrapeVerdicts(ctx, r.client, metricsURL)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	r.base = base
	return r, nil
}

// now is the rejected count for the progress line ("?" if a scrape fails:
// the broker may be restarting; the sim goes on).
func (r *simRejections) now(ctx context.Context) string {
	if r == nil {
		return "n/a"
	}
	v, err := fleet.ScrapeVerdicts(ctx, r.client, r.url)
	if err != nil {
		return "?"
	}
	return count(v.Since(r.base))
}

// final is the count for the summary, and the reasons. Every acknowledged
// message was decided before its PUBACK, but QoS 0 telemetry is
// "acknowledged" once written to the connection, so the broker may still be
// deciding the last of it: final scrapes until the broker's verdicts since
// the start cover acked (bounded, in case the counts are skewed).
func (r *simRejections) final(acked uint64) (string, string) {
	if r == nil {
		return "n/a", ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	var d *fleet.Verdicts
	result := func() (string, string) {
		if d == nil {
			return "?", ""
		}
		return count(*d), reasonList(d.Rejected)
	}
	for {
		if v, err := fleet.ScrapeVerdicts(ctx, r.client, r.url); err == nil {
			since := v.Since(r.base)
			if d = &since; d.Accepted+d.RejectedTotal() >= float64(acked) {
				return result()
			}
		}
		select {
		case <-ctx.Done():
			return result()
		case <-poll.C:
		}
	}
}

// count is the rejected total since the start, or "?" if the broker's
// counters went down (it restarted, and the difference means nothing).
func count(d fleet.Verdicts) string {
	if d.Accepted < 0 || d.RejectedTotal() < 0 {
		return "?"
	}
	return fmt.Sprint(d.RejectedTotal())
}

// reasonList is "replay 3, zone_mismatch 1", sorted by reason.
func reasonList(byReason map[string]float64) string {
	reasons := make([]string, 0, len(byReason))
	for r := range byReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		parts = append(parts, fmt.Sprintf("%s %v", r, byReason[r]))
	}
	return strings.Join(parts, ", ")
}
