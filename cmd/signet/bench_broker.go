package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/signet-city/signet/bench"
	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
)

// brokerFlags are the flags of "bench broker", shared with "bench all".
type brokerFlags struct {
	devices, messages, qos, gateways, inflight, rounds int
	seconds, warmup, rate                              float64
	modes, corpus, profileDir, traceDir                string
	pin                                                bool
}

func (f *brokerFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.devices, "devices", 1000, "devices in the signed corpus (one connection each)")
	cmd.Flags().IntVar(&f.messages, "messages", 0, "pre-signed messages per device (0: enough for --warmup + --seconds at 250k msg/s)")
	cmd.Flags().IntVar(&f.qos, "qos", 1, "QoS of the published messages: 0 or 1")
	cmd.Flags().Float64Var(&f.seconds, "seconds", 5, "duration of each measured run")
	cmd.Flags().Float64Var(&f.warmup, "warmup", 1, "seconds of load before each measured run, not measured")
	cmd.Flags().StringVar(&f.modes, "modes", "plain,naive,batch,relaxed,strict,mosquitto", "brokers to measure, comma-separated")
	cmd.Flags().IntVar(&f.gateways, "gateways", 10, "also measure plain and strict with this many gateway connections carrying all devices (0: no)")
	cmd.Flags().IntVar(&f.inflight, "inflight", 0, "closed-loop unacknowledged messages per connection (0: 1 per device connection, 32 per gateway)")
	cmd.Flags().Float64Var(&f.rate, "rate", 0, "also measure every configuration open loop at this many msg/s, the same for all (0: no)")
	cmd.Flags().IntVar(&f.rounds, "rounds", 1, "measure every configuration this many times, in rounds, and report the median of each figure (ratios are taken within a round)")
	cmd.Flags().BoolVar(&f.pin, "pin", false, "also measure each mode with the broker pinned to CPU 0 and the driver to CPU 1 (taskset, sched_setaffinity)")
	cmd.Flags().StringVar(&f.corpus, "corpus", "", "read the signed corpus from this file if it exists, else write the new one there")
	cmd.Flags().StringVar(&f.profileDir, "profile", "", "write CPU and heap profiles of each broker's max-rate and half-load runs into this directory (MODE-max.pprof, MODE-half.pprof)")
	cmd.Flags().StringVar(&f.traceDir, "trace", "", "write a Go execution trace of each broker's measured windows into this directory (MODE-max.trace, MODE-half.trace; go tool trace); tracing slows the brokers")
}

// options validates the flags and builds the benchmark's options.
func (f *brokerFlags) options() (bench.BrokerOptions, error) {
	var o bench.BrokerOptions
	if f.devices <= 0 || f.devices > 100_000 {
		return o, usagef("--devices %d: want 1 to 100000", f.devices)
	}
	if f.messages < 0 {
		return o, usagef("--messages %d: must not be negative", f.messages)
	}
	if f.qos != 0 && f.qos != 1 {
		return o, usagef("--qos %d: want 0 or 1", f.qos)
	}
	if f.seconds <= 0 || f.seconds > 3600 {
		return o, usagef("--seconds %v: want more than 0 and at most 3600", f.seconds)
	}
	if f.warmup < 0 || f.warmup > 600 {
		return o, usagef("--warmup %v: want 0 to 600 seconds", f.warmup)
	}
	if f.rate < 0 || f.rate > 1e6 {
		return o, usagef("--rate %v: want 0 (none) to 1000000 msg/s", f.rate)
	}
	if f.rounds < 1 || f.rounds > 20 {
		return o, usagef("--rounds %d: want 1 to 20", f.rounds)
	}
	if f.gateways < 0 || f.inflight < 0 {
		return o, usagef("--gateways and --inflight must not be negative")
	}
	for _, m := range strings.Split(f.modes, ",") {
		m = strings.TrimSpace(m)
		switch m {
		case bench.ModePlain, bench.ModeNaive, bench.ModeBatch, bench.ModeRelaxed, bench.ModeStrict, bench.ModeMosquitto, bench.ModeStrictNATS:
			o.Modes = append(o.Modes, m)
		default:
			return o, usagef("--modes: %q is not plain, naive, batch, relaxed, strict, strict-nats or mosquitto", m)
		}
	}
	for _, d := range []struct{ flag, dir string }{{"--profile", f.profileDir}, {"--trace", f.traceDir}} {
		if d.dir == "" {
			continue
		}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return o, fmt.Errorf("%s: %w", d.flag, err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return o, fmt.Errorf("finding the signet binary to start brokers under test: %w", err)
	}
	o.Devices, o.QoS, o.Gateways, o.Inflight, o.Pin = f.devices, byte(f.qos), f.gateways, f.inflight, f.pin
	o.Duration = time.Duration(f.seconds * float64(time.Second))
	o.Warmup = time.Duration(f.warmup * float64(time.Second))
	o.Messages = f.messages
	if o.Messages == 0 {
		// Enough that no device runs out in a closed-loop run at 250k msg/s:
		// plain mochi with gateways reached 205k here, and a run whose
		// connections run out measures plain too low.
		o.Messages = max(20, int(250_000*(f.warmup+f.seconds))/f.devices+1)
	}
	o.CorpusFile, o.ProfileDir, o.TraceDir, o.Rounds, o.Rate = f.corpus, f.profileDir, f.traceDir, f.rounds, f.rate
	o.TargetCommand = []string{exe, "bench", "target"}
	return o, nil
}

func newBenchBrokerCmd() *cobra.Command {
	var f brokerFlags
	var jsonFile, reportDir string
	var kill int
	cmd := &cobra.Command{
		Use:   "broker [--devices 1000] [--qos 1] [--seconds 5] [--json FILE] [--report DIR]",
		Short: "Signet against plain brokers: messages/s, latency and CPU per message, same corpus, same driver",
		Long: `Sign a corpus once (--devices streetlights, Ed25519 keys, --messages each:
telemetry on city/{zone}/{device}/tele/power and every tenth message a state
patch), then measure each broker under test, each in its own child process on a
loopback port, with a fresh store per run:

  plain      mochi with no Signet hooks (allow-all authentication)
  naive      mochi with a hook that parses each envelope and calls
             crypto/ed25519.Verify inline in OnPublish
  batch      mochi with a hook that parses each envelope and verifies it
             through Signet's batching verifier, as strict does, and does
             nothing else: the floor broker, measured
  relaxed    the Signet broker, relaxed durability
  strict     the Signet broker, strict durability (fsync before PUBACK)
  strict-nats  strict on an embedded 3-node JetStream cluster, replicas 3 (target_nats.go)
  mosquitto  Debian's mosquitto, when installed (skipped with a note if not)

Each configuration gets a closed-loop run (every connection publishes as fast
as its in-flight window allows) that gives its maximum rate and the broker's
CPU seconds per message (from /proc, the child's own accounting), then an
open-loop run at half that rate for latency: publish to PUBACK, and publish to
delivery at a subscriber of one zone. Percentiles come from a histogram with
0.8% resolution. Devices log in with connect tokens (Signet) and one
connection each; with --gateways N, plain and strict are also measured with N
gateway connections carrying every device. Each run measures only after
--warmup seconds of the same load. Every Go broker under test runs with the
mochi options, garbage collector and scheduler policy of "signet serve"
(GOMAXPROCS two per CPU); the driver pauses its own collector during runs,
so that it does not add latency. --profile adds CPU and heap profiles of
each broker's two runs, covering only the measured windows; --trace adds a
Go execution trace of the same windows, which shows where messages waited
and for what (go tool trace FILE; go tool trace -pprof=sched FILE > s.pprof
for the time goroutines waited for a CPU). Tracing slows the broker, so
compare traced runs only with traced runs.

The acceptance figures compare strict, one connection per device,
with plain and naive from the same run. The numbers are only as quiet as the
machine: close everything else, and compare ratios, not absolute rates.
The driver's own CPU per message and how busy the machine was are reported
too (busy: broker and driver; others: the rest of the machine's busy time,
other processes and interrupts; steal: the hypervisor's, from /proc/stat;
a run where others or steal took a tenth of the machine is noted as
disturbed), and from them a CPU budget: when broker and driver keep every
core busy, the most CPU per message strict's broker may spend to reach
0.6x plain and 1.3x naive, beside its floor (plain's broker plus one
signature's share of an Ed25519 batch of 1024, measured after the runs,
the least of five measurements). Strict's CPU is split into plain's share,
its signatures' in the batches that formed (from the broker's
signet_verify_batch_size histogram: each size class's share measured at
its middle size, after the runs) and the rest, Signet's own work; and each
ratio target is set beside its ceiling, the ratio strict would reach at
its floor with everything else as measured: a target above its ceiling
cannot be met by the broker. With the batch mode the floor is measured
too ("Floor broker, measured"; floor_broker in the JSON): the batch
broker's CPU per message over the computed floor, its ratios to plain,
shared and pinned, and what strict spent beyond it; a target the batch
broker misses cannot be met by a broker that verifies every signature
the same way. For Signet's brokers (and the batch broker's mean batch),
further tables show where messages waited inside the broker at
its maximum rate, at half load (and at --rate): arrival to verdict, the
signature wait and the commit wait, read from the broker's own latency
histograms over each window, and the mean batch: signatures per Ed25519
verification in the window (signet_verify_signatures_total over
signet_verify_batches_total plus signet_verify_singles_total, a signature
verified alone counting as a batch of one). The floor assumes batches of
1024; smaller batches cost more per signature, so the mean batch at the
maximum rate (mean_batch_at_max in the JSON) explains strict's
verification CPU, and the one at half load (mean_batch_at_half_load) what
a lighter load pays.
Changes per commit is the group committer's counterpart: changes per store
transaction (signet_store_changes_total over
signet_store_transactions_total), each transaction paying bbolt's fsyncs
once for all it carries (commit_delay in the broker's config).
A last table shows what each Go broker's runtime did in each window
(runtime/metrics; max_runtime and half_load_runtime in the JSON): the
garbage collections completed, the CPU goroutines spent assisting the
collector, and how long goroutines that were ready to run waited for a CPU.
A half-load tail that they explain belongs to the runtime and the machine,
not to a stage of the broker.
--rounds N measures every configuration N times, one round after another,
and reports each figure's median over the rounds, with every round's
figures beside it. --rate R adds an open-loop run of every configuration at
R msg/s: one load for all, such as a district's expected rate.
--pin adds a row for each mode with the broker pinned to CPU 0 (taskset)
and the driver to CPU 1: a broker's rate is then its capacity on one core,
and pinned_ratio_vs_plain compares strict and plain that way.
--kill N then kills strict with SIGKILL N times under signed load and
restarts it on its store (the harness of "signet bench faults"): it reports
the honest messages refused after each restart and fails if any replay was
accepted or any acknowledged update lost.`,
		Example: `  signet bench broker
  signet bench broker --json broker.json --report report/
  signet bench broker --modes plain,strict --devices 200 --seconds 2
  signet bench broker --corpus /tmp/city.corpus   # sign once, reuse next time
  signet bench broker --modes plain,naive,strict --gateways 0 --rounds 3
  signet bench broker --modes strict --gateways 0 --rate 7000   # p99 at 7000 msg/s
  signet bench broker --modes plain,naive,strict --gateways 0 --pin   # each broker on one core, the driver on the other
  signet bench broker --modes plain,strict --gateways 0 --kill 20     # and a crash run of 20 SIGKILLs
  signet bench broker --modes strict --profile prof/ && go tool pprof -top prof/strict-max.pprof
  go tool pprof -sample_index=alloc_space -top prof/strict-max.heap.pprof`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			if err := checkOutputs(jsonFile, reportDir); err != nil {
				return err
			}
			if kill < 0 {
				return usagef("--kill %d: want a number of rounds, 0 for none", kill)
			}
			all := &bench.AllReport{Machine: bench.DescribeMachine(), Command: commandLine()}
			if err := measureBrokers(cmd, o, all, jsonFile, reportDir); err != nil || kill == 0 {
				return err
			}
			return killStrict(cmd, kill, all, jsonFile, reportDir)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&jsonFile, "json", "", "write every figure as JSON to this file (- for stdout)")
	cmd.Flags().StringVar(&reportDir, "report", "", "write report.md and PNG plots into this directory")
	cmd.Flags().IntVar(&kill, "kill", 0, "then kill strict with SIGKILL this many times under signed load and restart it (the fault harness): honest messages refused after each restart, and 0 replays accepted")
	return cmd
}

// killStrict runs the crash benchmark of --kill: the fault harness's
// SIGKILL rounds against "signet serve" (strict), without its disk
// faults; a replay accepted or an acknowledged update lost is an error.
func killStrict(cmd *cobra.Command, rounds int, all *bench.AllReport, jsonFile, reportDir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "\ncrash run: strict killed with SIGKILL %d times under load\n", rounds)
	bench.FaultTableHeader(out)
	rep, err := bench.RunFaults(cmd.Context(), bench.FaultOptions{
		Binary: exe, Rounds: rounds, Devices: 20, Skip: bench.DefaultLeaseSkip,
		MaxKillAfter: 2 * time.Second, Progress: func(r bench.FaultRound) { bench.PrintFaultRound(out, r) },
	})
	if err != nil {
		return err
	}
	bench.PrintFaultSummary(out, rep)
	all.Kill = rep
	if err := writeOutputs(out, all, jsonFile, reportDir); err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("crash run: %d replays accepted, %d acknowledged updates lost, %d failed starts", rep.ReplaysAccepted, rep.LostAcked, rep.FailedStarts)
	}
	return nil
}

// checkOutputs refuses output paths that cannot be written before any
// minute of benchmarking is spent.
func checkOutputs(jsonFile, reportDir string) error {
	if jsonFile != "" && jsonFile != "-" {
		f, err := os.OpenFile(jsonFile, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return usagef("--json: %v", err)
		}
		f.Close()
	}
	if reportDir != "" {
		if err := os.MkdirAll(reportDir, 0o755); err != nil {
			return usagef("--report: %v", err)
		}
	}
	return nil
}

// writeOutputs writes the JSON and the report.
func writeOutputs(stdout io.Writer, all *bench.AllReport, jsonFile, reportDir string) error {
	if jsonFile != "" {
		data, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		data = append(data, '\n')
		if jsonFile == "-" {
			_, err = stdout.Write(data)
		} else {
			err = os.WriteFile(jsonFile, data, 0o644)
		}
		if err != nil {
			return fmt.Errorf("--json %s: %w", jsonFile, err)
		}
	}
	if reportDir != "" {
		if err := bench.WriteReport(reportDir, all); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report: %s\n", reportDir+"/report.md")
	}
	return nil
}

// commandLine is how this run was started, for the report.
func commandLine() string {
	return "signet " + strings.Join(os.Args[1:], " ")
}

// printBrokerTable prints the comparison.
func printBrokerTable(out io.Writer, r *bench.BrokerReport) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "configuration\tconns\tmsg/s\tvs plain\tCPU µs/msg\tdriver µs/msg\tbusy\tothers\tsteal\tp50 ms\tp99 ms\thalf-load msg/s\thalf p50 ms\thalf p99 ms\tdelivery p99 ms\t\n")
	for _, c := range r.Configs {
		if c.Skipped != "" {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", c.Name)
			continue
		}
		ratio := "-"
		if plain := r.RowFigures().PlainMsgsPerSec; plain > 0 {
			ratio = fmt.Sprintf("%.2fx", c.MsgsPerSec/plain)
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%.1f\t%.1f\t%.0f%%\t%.0f%%\t%.0f%%\t%.2f\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t\n", c.Name, c.Connections, c.MsgsPerSec, ratio,
			c.CPUMicrosPerMsg, c.DriverCPUMicrosPerMsg, 100*c.MachineBusy, 100*c.OthersBusy, 100*c.Steal, c.P50Ms, c.P99Ms, c.HalfMsgsPerSec, c.HalfP50Ms, c.HalfP99Ms, c.HalfDeliveryP99Ms)
	}
	w.Flush()
	printStages(out, "inside the broker at its maximum rate (its own metrics)", r.Configs, func(c bench.ConfigResult) *bench.Stages { return c.MaxStages })
	printStages(out, "inside the broker at half load (its own metrics)", r.Configs, func(c bench.ConfigResult) *bench.Stages { return c.HalfStages })
	printRuntime(out, r.Configs)
	if r.Rate > 0 {
		fmt.Fprintf(out, "\nopen loop at %.0f msg/s:\n", r.Rate)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(w, "configuration\tmsg/s\tCPU µs/msg\tp50 ms\tp99 ms\tp99.9 ms\t\n")
		for _, c := range r.Configs {
			if c.Skipped == "" {
				fmt.Fprintf(w, "%s\t%.0f\t%.1f\t%.2f\t%.2f\t%.2f\t\n", c.Name, c.RateMsgsPerSec, c.RateCPUMicrosPerMsg, c.RateP50Ms, c.RateP99Ms, c.RateP999Ms)
			}
		}
		w.Flush()
		printStages(out, fmt.Sprintf("inside the broker at %.0f msg/s", r.Rate), r.Configs, func(c bench.ConfigResult) *bench.Stages { return c.RateStages })
	}
	of := ""
	if len(r.Rounds) > 1 {
		fmt.Fprintf(out, "(the rows above are round %d, the median round by strict vs plain)\n\n", r.MedianRound+1)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(w, "round\tplain msg/s\tnaive msg/s\tstrict msg/s\tvs plain\tvs naive\thalf p99 ms\t\n")
		row := func(name string, f bench.Figures) {
			fmt.Fprintf(w, "%s\t%.0f\t%.0f\t%.0f\t%.2fx\t%.2fx\t%.2f\t\n", name, f.PlainMsgsPerSec, f.NaiveMsgsPerSec, f.SignetMsgsPerSec, f.RatioVsPlain, f.RatioVsNaive, f.P99MsAtHalfLoad)
		}
		for i, f := range r.Rounds {
			row(fmt.Sprint(i+1), f)
		}
		row("median", r.Figures)
		w.Flush()
		of = fmt.Sprintf(" (medians of %d rounds)", len(r.Rounds))
	}
	if line := r.Figures.Summary(); line != "" {
		fmt.Fprintf(out, "\n%s%s\n", line, of)
	}
	if r.Budget != nil {
		fmt.Fprintf(out, "%s\n", r.Budget.Describe())
		if c := r.Budget.DescribeBatches(); c != "" {
			fmt.Fprintf(out, "%s\n", c)
		}
		if c := r.Budget.DescribeCeilings(); c != "" {
			fmt.Fprintf(out, "%s\n", c)
		}
		if c := r.Budget.DescribeMeasured(); c != "" {
			fmt.Fprintf(out, "%s\n", c)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
}

// benchBar is one progress bar on stderr for a whole benchmark. When stderr
// is not a terminal (a log file, CI), it prints one line per stage instead
// of redrawing a bar.
type benchBar struct {
	w     io.Writer
	bar   *progressbar.ProgressBar // nil: line mode
	stage string                   // line mode: the stage last printed
}

func newBenchBar(w io.Writer) *benchBar {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return &benchBar{w: w}
	}
	return &benchBar{w: w, bar: progressbar.NewOptions(1000,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
	)}
}

func (b *benchBar) update(stage string, fraction float64) {
	if b.bar == nil {
		if stage != b.stage {
			fmt.Fprintf(b.w, "[%3.0f%%] %s\n", 100*fraction, stage)
			b.stage = stage
		}
		return
	}
	b.bar.Describe(fmt.Sprintf("%-45s", stage))
	b.bar.Set(int(fraction * 1000))
}

func (b *benchBar) finish() {
	if b.bar == nil {
		return
	}
	b.bar.Finish()
	b.bar.Exit()
	fmt.Fprintln(b.w) // what follows starts on its own line
}

// newBenchTargetCmd is the broker under test, started by "bench broker" as
// a child process so that its CPU time is its own.
func newBenchTargetCmd() *cobra.Command {
	var mode, addr, devFile, profile, traceFile string
	cmd := &cobra.Command{
		Use:    "target --mode plain|naive|batch|relaxed|strict --devices FILE [--addr 127.0.0.1:0]",
		Short:  "A broker under test for bench broker (internal)",
		Hidden: true,
		Long: `Serve one broker under test until stdin closes. Prints "ready ADDR" on stdout
once listening. The Signet modes enrol the devices of --devices (JSON) in a
fresh store in a temporary directory; their admin and gateway users take the
password in $SIGNET_BENCH_PASSWORD (or its argon2id hash in
$SIGNET_BENCH_PASSWORD_HASH, which saves hashing it in every child).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(devFile)
			if err != nil {
				return usagef("--devices: %v", err)
			}
			var devs []devices.Device
			if err := json.Unmarshal(data, &devs); err != nil {
				return fmt.Errorf("--devices %s: %w", devFile, err)
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelError}))
			// Every Go broker under test runs with the collector and
			// scheduler policies that "signet serve" uses, so they differ
			// only in hooks.
			broker.ApplyGCPolicy(0, 0)
			broker.ApplyProcsPolicy(0)
			t, err := bench.StartTarget(cmd.Context(), bench.TargetOptions{
				Mode: mode, Addr: addr, Devices: devs, Logger: logger,
				Password: os.Getenv("SIGNET_BENCH_PASSWORD"), PasswordHash: os.Getenv("SIGNET_BENCH_PASSWORD_HASH"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ready %s\n", t.Addr())
			// Until the driver closes our stdin, "profile start" and
			// "profile stop" lines bracket the measured window.
			profErr := serveTargetStdin(cmd.InOrStdin(), cmd.OutOrStdout(), windowFiles{cpu: profile, trace: traceFile}, bench.NewStageWindow(t.Metrics()))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return errors.Join(profErr, t.Close(ctx))
		},
	}
	cmd.Flags().StringVar(&mode, "mode", "", "plain, naive, batch, relaxed or strict")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "MQTT listen address")
	cmd.Flags().StringVar(&devFile, "devices", "", "devices to enrol (JSON list of registry records)")
	cmd.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the measured window (between \"profile start\" and \"profile stop\" on stdin) here")
	cmd.Flags().StringVar(&traceFile, "trace", "", "write a Go execution trace of the measured window here")
	return cmd
}

// windowFiles names what a broker under test records of its measured
// window ("": not recorded).
type windowFiles struct {
	cpu   string // CPU profile, and the heap profile beside it (FILE.heap.pprof for FILE.pprof)
	trace string // execution trace
}

// serveTargetStdin reads the driver's lines until stdin closes. Between
// "profile start" and "profile stop" it profiles the CPU into files.cpu (if
// named), writing a heap profile (allocations since the start of the
// process, up to date at the stop) beside it at the stop, traces the
// process into files.trace (if named), and measures the broker's stages
// and its runtime; it answers each "profile stop" with a
// bench.WindowPrefix line on out.
func serveTargetStdin(stdin io.Reader, out io.Writer, files windowFiles, stages *bench.StageWindow) error {
	sc := bufio.NewScanner(stdin)
	var rec *windowRecording
	var rt bench.RuntimeWindow
	var err error
	for sc.Scan() {
		switch sc.Text() {
		case "profile start":
			if err := stages.Start(); err != nil {
				return fmt.Errorf("stage metrics: %w", err)
			}
			rt.Start()
			if rec == nil {
				if rec, err = startRecording(files); err != nil {
					return err
				}
			}
		case "profile stop":
			if err := rec.stop(); err != nil {
				return err
			}
			rec = nil
			rts := rt.Stop()
			st, err := stages.Stop()
			if err != nil {
				return fmt.Errorf("stage metrics: %w", err)
			}
			line, err := json.Marshal(bench.Window{Stages: st, Runtime: rts})
			if err != nil {
				return fmt.Errorf("stage metrics: %w", err)
			}
			if _, err := fmt.Fprintf(out, "%s%s\n", bench.WindowPrefix, line); err != nil {
				return err
			}
		}
	}
	return rec.stop()
}

// windowRecording is a measured window's CPU profile and trace being
// written.
type windowRecording struct {
	files     windowFiles
	cpu, trac *os.File
}

// startRecording starts what files name.
func startRecording(files windowFiles) (*windowRecording, error) {
	r := &windowRecording{files: files}
	if files.cpu != "" {
		f, err := os.Create(files.cpu)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		r.cpu = f
	}
	if files.trace != "" {
		f, err := os.Create(files.trace)
		if err == nil {
			if err = trace.Start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("--trace: %w", err), r.stop())
		}
		r.trac = f
	}
	return r, nil
}

// stop ends the recording (nil: none) and writes the heap profile.
func (r *windowRecording) stop() error {
	if r == nil {
		return nil
	}
	var errs []error
	if r.trac != nil {
		trace.Stop()
		if err := r.trac.Close(); err != nil {
			errs = append(errs, fmt.Errorf("--trace: %w", err))
		}
	}
	if r.cpu != nil {
		pprof.StopCPUProfile()
		err := r.cpu.Close()
		// The allocation profile is as of the last completed collection,
		// and at gc_percent 1000 the last may be long before the stop.
		runtime.GC()
		hf, herr := os.Create(strings.TrimSuffix(r.files.cpu, ".pprof") + ".heap.pprof")
		if herr == nil {
			herr = errors.Join(pprof.Lookup("allocs").WriteTo(hf, 0), hf.Close())
		}
		if err = errors.Join(err, herr); err != nil {
			errs = append(errs, fmt.Errorf("--cpuprofile: %w", err))
		}
	}
	return errors.Join(errs...)
}

// printRuntime prints what each Go broker's runtime did in its windows
// (nothing if none reported it).
func printRuntime(out io.Writer, rows []bench.ConfigResult) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	header := false
	for _, c := range rows {
		cells, ok := bench.RuntimeCells(c)
		if !ok {
			continue
		}
		if !header {
			fmt.Fprintf(out, "\nthe Go runtime in each window (collections; how long ready goroutines waited for a CPU):\n")
			fmt.Fprintf(w, "configuration\t%s\t\n", strings.Join(bench.RuntimeColumns, "\t"))
			header = true
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.2f\t%.0f\t%.1f\t%.3f\t%.2f\t\n", append([]any{c.Name}, cells...)...)
	}
	w.Flush()
}

// printStages prints, for each row whose broker reports them, where its
// messages spent their time (nothing if none does).
func printStages(out io.Writer, title string, rows []bench.ConfigResult, of func(bench.ConfigResult) *bench.Stages) {
	stages := bench.StageRows(rows, of)
	if len(stages) == 0 {
		return
	}
	fmt.Fprintf(out, "\n%s:\n", title)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "configuration\t%s\t\n", strings.Join(bench.StageColumns, "\t"))
	for _, r := range stages {
		fmt.Fprintf(w, "%s\t%s\t\n", r.Name, strings.Join(r.Stages.Cells(), "\t"))
	}
	w.Flush()
}

// measureBrokers runs the broker comparison with a progress bar, prints its
// table, and writes the JSON and the report (bench broker and bench all).
func measureBrokers(cmd *cobra.Command, o bench.BrokerOptions, all *bench.AllReport, jsonFile, reportDir string) error {
	bar := newBenchBar(cmd.ErrOrStderr())
	o.Progress = bar.update
	var err error
	all.Broker, err = bench.MeasureBrokers(cmd.Context(), o)
	bar.finish()
	if err != nil {
		return err
	}
	printBrokerTable(cmd.OutOrStdout(), all.Broker)
	return writeOutputs(cmd.OutOrStdout(), all, jsonFile, reportDir)
}
