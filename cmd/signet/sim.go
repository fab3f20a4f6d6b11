package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
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
	cmd := &cobra.Command{
		Use:   "sim IMAGES_DIR [--rate 1] [--duration 60s] [--reboot-every 0]",
		Short: "Run a fleet of flashed devices against their broker",
		Long: `Boot every *.img in IMAGES_DIR as a device in this process (one MQTT
connection each), run its model --rate times per second, and sign and publish
what it produces. A live progress line on stderr shows messages sent,
acknowledged and failed, and the rate; a summary follows at the end.

--reboot-every kills and boots each device at that interval (its memory is
dropped; only the image and the counter file survive), to exercise counter
persistence: a rebooted device must never reuse a counter. Ctrl-C stops early.

MQTT 3.1.1 gives no reason codes: a message the broker refused is still
acknowledged; see $security/events or /metrics for rejections.`,
		Example: "  signet sim images/ --rate 2 --duration 5m\n  signet sim images/ --reboot-every 30s",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rate <= 0 || rate > 1000 {
				return usagef("--rate must be between 0 and 1000 messages per second per device")
			}
			if duration <= 0 {
				return usagef("--duration must be positive")
			}
			ims, err := fleet.LoadImages(args[0])
			if err != nil {
				return err
			}
			return runSim(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), ims, time.Duration(float64(time.Second)/rate), duration, rebootEvery)
		},
	}
	cmd.Flags().Float64Var(&rate, "rate", 1, "model steps (messages) per second per device")
	cmd.Flags().DurationVar(&duration, "duration", time.Minute, "how long to run")
	cmd.Flags().DurationVar(&rebootEvery, "reboot-every", 0, "reboot each device at this interval (0: never)")
	return cmd
}

func runSim(ctx context.Context, out, progress io.Writer, ims []*image.Image, interval, duration, rebootEvery time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, duration)
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
			fmt.Fprintf(progress, "\rsim: %d devices  %5.0fs  sent %d  acked %d  failed %d  %.0f msg/s   ",
				len(ims), time.Since(start).Seconds(), sent, stats.Acked.Load(), stats.Failed.Load(), float64(sent-lastSent))
			lastSent = sent
		}
	}
	fmt.Fprintln(progress)
	elapsed := time.Since(start).Seconds()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	totalBoots := 0
	boots.Range(func(_, v any) bool { totalBoots += *(v.(*int)); return true })
	fmt.Fprintf(out, "devices %d  boots %d  sent %d  acked %d  failed %d  %.0f msg/s  heap %.0f MiB\n",
		len(ims), totalBoots, stats.Sent.Load(), stats.Acked.Load(), stats.Failed.Load(),
		float64(stats.Sent.Load())/elapsed, float64(ms.HeapAlloc)/(1<<20))
	return firstErr
}
