package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/signet-city/signet/broker"
)

// BrokerOptions describes the broker comparison: every configuration gets
// the same corpus and the same driver, in one run.
type BrokerOptions struct {
	Devices  int           // devices in the corpus (1000)
	Messages int           // pre-signed messages per device
	QoS      byte          // 0 or 1
	Duration time.Duration // per measured run
	Warmup   time.Duration // load before each measured run, not measured (LoadOptions.Warmup)
	// Modes are the brokers to measure, in order: plain, naive, batch,
	// relaxed, strict, strict-nats, mosquitto.
	Modes []string
	// Gateways, when positive, adds rows for plain and strict where that
	// many gateway connections carry all the devices.
	Gateways int
	Inflight int // closed-loop window per connection (LoadOptions.Inflight)
	// CorpusFile is read if it exists, else the generated corpus is
	// written there ("": generate, keep in memory only).
	CorpusFile string
	// TargetCommand starts a broker under test as a child process when
	// given the flags of "signet bench target" (e.g. the signet binary,
	// "bench", "target").
	TargetCommand []string
	// ProfileDir, if set, receives a CPU profile of each broker child's
	// closed-loop run (MODE-max.pprof), half-load run (MODE-half.pprof) and
	// run at Rate (MODE-rate.pprof), each covering only the measured window.
	ProfileDir string
	// TraceDir, if set, receives a Go execution trace of each broker
	// child's measured windows (MODE-RUN.trace, RUN as for ProfileDir):
	// where goroutines waited, and for what. Tracing costs the broker CPU,
	// so a traced run's figures are not comparable with an untraced one.
	TraceDir string
	// Rate, if positive, adds a third run to each configuration: open loop
	// at this many messages per second, the same for all, so that brokers
	// are compared at one load (and a district's expected load can be
	// tried).
	Rate float64
	// Pin adds a row for each mode with the broker pinned to one core and
	// the driver to the other (pin.go), beside the shared-core rows.
	Pin bool
	// Rounds is how many times every configuration is measured, one
	// configuration after another in each round (0: once). The machine's
	// speed drifts between runs; ratios are taken within a round and their
	// medians reported.
	Rounds int
	// Progress, if set, is told what runs and how far the whole benchmark
	// is (0 to 1), a few times a second.
	Progress func(stage string, fraction float64)
	Logger   *slog.Logger
}

// ConfigResult is one configuration's figures: a closed-loop run at its
// maximum rate, then an open-loop run at half that rate.
type ConfigResult struct {
	Name        string `json:"name"`
	Mode        string `json:"mode"`
	Connections int    `json:"connections"`
	Gateway     bool   `json:"gateway"`
	// Pinned: the broker ran on one core and the driver on the other.
	Pinned bool `json:"pinned,omitempty"`
	// Skipped says why the configuration was not measured ("" if it was).
	Skipped string `json:"skipped,omitempty"`

	MsgsPerSec      float64 `json:"msgs_per_s"`
	Sent            uint64  `json:"sent"`
	Acked           uint64  `json:"acked"`
	Rejected        uint64  `json:"rejected"` // security events seen (Signet)
	Exhausted       bool    `json:"corpus_exhausted"`
	CPUSeconds      float64 `json:"broker_cpu_s"`
	CPUMicrosPerMsg float64 `json:"broker_cpu_us_per_msg"`
	// DriverCPUMicrosPerMsg is the load driver's CPU per message (this
	// process's, getrusage(2)): it runs on the same cores.
	DriverCPUMicrosPerMsg float64 `json:"driver_cpu_us_per_msg"`
	// MachineBusy is the share of all the machine's CPUs that the broker
	// and the driver kept busy (1: every core all the time): near 1, the
	// maximum rate is bound by CPU.
	MachineBusy float64 `json:"machine_busy"`
	// OthersBusy is the share of the machine's CPUs busy at the maximum
	// rate beyond the broker and the driver: other processes, and kernel
	// work charged to neither (interrupts). Steal is the share the
	// hypervisor ran something else instead (/proc/stat's steal). A run
	// whose figures are well above those of the runs beside it was
	// disturbed. Both 0 where /proc/stat is missing.
	OthersBusy    float64 `json:"others_busy"`
	Steal         float64 `json:"steal"`
	P50Ms         float64 `json:"puback_p50_ms"`
	P99Ms         float64 `json:"puback_p99_ms"`
	DeliveryP99Ms float64 `json:"delivery_p99_ms"`
	// MaxStages is where a Signet broker's messages spent their time at
	// its maximum rate, from its own metrics (nil for the others).
	MaxStages *Stages `json:"max_stages,omitempty"`
	// MaxRuntime, HalfRuntime and RateRuntime are what a Go broker's
	// runtime did in each run's window: collections and how long ready
	// goroutines waited for a CPU (nil for mosquitto).
	MaxRuntime  *RuntimeStats `json:"max_runtime,omitempty"`
	HalfRuntime *RuntimeStats `json:"half_load_runtime,omitempty"`
	RateRuntime *RuntimeStats `json:"rate_runtime,omitempty"`
	// MeanBatchAtMax and MeanBatchAtHalfLoad are a Signet broker's mean
	// Ed25519 batch (Batching.MeanBatch: signatures per verification) at
	// its maximum rate and at half load (0 for the others).
	MeanBatchAtMax      float64 `json:"mean_batch_at_max,omitempty"`
	MeanBatchAtHalfLoad float64 `json:"mean_batch_at_half_load,omitempty"`

	HalfRate       float64 `json:"half_load_target_msgs_per_s"`
	HalfMsgsPerSec float64 `json:"half_load_msgs_per_s"`
	HalfP50Ms      float64 `json:"half_load_puback_p50_ms"`
	HalfP99Ms      float64 `json:"half_load_puback_p99_ms"`
	HalfP999Ms     float64 `json:"half_load_puback_p999_ms"`
	// HalfStateP99Ms and HalfTelemetryP99Ms split HalfP99Ms by message
	// kind: state (durable with its twin) and telemetry.
	HalfStateP99Ms     float64 `json:"half_load_state_puback_p99_ms"`
	HalfTelemetryP99Ms float64 `json:"half_load_telemetry_puback_p99_ms"`
	HalfDeliveryP50Ms  float64 `json:"half_load_delivery_p50_ms"`
	HalfDeliveryP99Ms  float64 `json:"half_load_delivery_p99_ms"`
	// HalfStages is where a Signet broker's messages spent their time at
	// half load, from its own metrics (nil for the others).
	HalfStages *Stages `json:"half_load_stages,omitempty"`
	// HalfOthersBusy and HalfSteal are OthersBusy and Steal at half load.
	HalfOthersBusy float64 `json:"half_load_others_busy"`
	HalfSteal      float64 `json:"half_load_steal"`
	// HalfCPUMicrosPerMsg is the broker's CPU per message at half load:
	// smaller verification batches and commits cost more per message.
	HalfCPUMicrosPerMsg float64 `json:"half_load_broker_cpu_us_per_msg"`

	// The open-loop run at BrokerOptions.Rate, if one was asked for:
	// latency from publish to PUBACK (QoS 1) or to delivery (QoS 0).
	RateTarget          float64 `json:"rate_target_msgs_per_s,omitempty"`
	RateMsgsPerSec      float64 `json:"rate_msgs_per_s,omitempty"`
	RateP50Ms           float64 `json:"rate_p50_ms,omitempty"`
	RateP99Ms           float64 `json:"rate_p99_ms,omitempty"`
	RateP999Ms          float64 `json:"rate_p999_ms,omitempty"`
	RateCPUMicrosPerMsg float64 `json:"rate_broker_cpu_us_per_msg,omitempty"`
	RateStages          *Stages `json:"rate_stages,omitempty"`

	// HalfCDF is the publish-to-PUBACK (QoS 1) or publish-to-delivery
	// (QoS 0) latency distribution at half load, for the CDF plot.
	HalfCDF []CDFPoint `json:"-"`
}

// Figures are the acceptance figures of issue 7 (Signet = strict, one
// connection per device), from one round of runs or the medians of several.
type Figures struct {
	PlainMsgsPerSec  float64 `json:"plain_msgs_per_s"`
	NaiveMsgsPerSec  float64 `json:"naive_msgs_per_s"`
	SignetMsgsPerSec float64 `json:"signet_msgs_per_s"`
	RatioVsPlain     float64 `json:"ratio_vs_plain"`
	RatioVsNaive     float64 `json:"ratio_vs_naive"`
	P99MsAtHalfLoad  float64 `json:"p99_ms_at_half_load"`
	// TelemetryP99MsAtHalfLoad and StateP99MsAtHalfLoad are strict's
	// PUBACK p99 at half load by message kind.
	TelemetryP99MsAtHalfLoad float64 `json:"telemetry_p99_ms_at_half_load"`
	StateP99MsAtHalfLoad     float64 `json:"state_p99_ms_at_half_load"`
	// StrictCPUMicrosPerMsg is strict's broker CPU per message at its
	// maximum rate; FloorCPUMicrosPerMsg plain's plus one signature's
	// share of an Ed25519 batch of 1024 (CPUBudget; 0 until measured).
	StrictCPUMicrosPerMsg float64 `json:"strict_cpu_us_per_msg"`
	FloorCPUMicrosPerMsg  float64 `json:"floor_cpu_us_per_msg,omitempty"`
	// MeanBatchAtMax and MeanBatchAtHalfLoad are strict's mean Ed25519
	// batch (signatures per verification) at its maximum rate and at half
	// load: the floor assumes batches of 1024.
	MeanBatchAtMax      float64 `json:"mean_batch_at_max"`
	MeanBatchAtHalfLoad float64 `json:"mean_batch_at_half_load"`
	// GatewayRatioVsPlainGateway is strict over plain, both with the
	// gateway connections (--gateways; 0 without).
	GatewayRatioVsPlainGateway float64 `json:"gateway_ratio_vs_plain_gateway,omitempty"`
	// PinnedRatioVsPlain is strict over plain with each broker pinned to
	// one core and the driver to the other (--pin; 0 without).
	PinnedRatioVsPlain float64 `json:"pinned_ratio_vs_plain,omitempty"`
}

// BrokerReport is the broker comparison. Its Figures come first in JSON.
type BrokerReport struct {
	Figures

	Devices  int     `json:"devices"`
	Messages int     `json:"messages_per_device"`
	QoS      int     `json:"qos"`
	Seconds  float64 `json:"seconds_per_run"`
	Warmup   float64 `json:"warmup_seconds"`
	// Rate is BrokerOptions.Rate: each row's Rate* figures are at it.
	Rate float64 `json:"open_loop_rate_msgs_per_s,omitempty"`
	// Rounds, when more than one round was run, are each round's figures
	// (each round measures every configuration once, in order); Figures
	// are then the median of each figure taken on its own, and Configs
	// are the rows of round MedianRound (from 0), the median by
	// RatioVsPlain.
	Rounds      []Figures      `json:"rounds,omitempty"`
	MedianRound int            `json:"median_round,omitempty"`
	Configs     []ConfigResult `json:"configs"`
	// Budget is what the throughput targets leave strict's broker per
	// message, from the rows in Configs (nil without strict, or without
	// plain and naive).
	Budget *CPUBudget `json:"cpu_budget,omitempty"`
	Notes  []string   `json:"notes,omitempty"`
}

// config is one row to measure.
type config struct {
	name     string
	mode     string
	gateways int
	pinned   bool
}

// MeasureBrokers runs the comparison.
func MeasureBrokers(ctx context.Context, o BrokerOptions) (*BrokerReport, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string, float64) {}
	}
	if o.Duration <= 0 {
		return nil, fmt.Errorf("broker bench: duration %v must be positive", o.Duration)
	}
	if o.QoS > 1 {
		return nil, fmt.Errorf("broker bench: qos %d: want 0 or 1", o.QoS)
	}
	if len(o.TargetCommand) == 0 {
		return nil, errors.New("broker bench: no command to start a broker under test")
	}
	if o.Pin {
		if why := canPin(); why != "" {
			return nil, errors.New("broker bench: " + why)
		}
	}
	for _, m := range o.Modes {
		if !slices.Contains(TargetModes, m) && m != ModeMosquitto {
			return nil, fmt.Errorf("broker bench: mode %q: want one of %v or mosquitto", m, TargetModes)
		}
	}
	dir, err := os.MkdirTemp("", "signet-bench-broker-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	corpus, err := loadOrGenerate(ctx, o)
	if err != nil {
		return nil, err
	}
	rep := &BrokerReport{Devices: len(corpus.Devices), Messages: len(corpus.Messages[0]), QoS: int(o.QoS), Seconds: o.Duration.Seconds(), Warmup: o.Warmup.Seconds(), Rate: o.Rate}
	devFile := filepath.Join(dir, "devices.json")
	regs, err := json.Marshal(corpus.Registrations())
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(devFile, regs, 0o600); err != nil {
		return nil, fmt.Errorf("broker bench: %w", err)
	}
	password := randomHex(12)
	hash, err := broker.HashPassword(password)
	if err != nil {
		return nil, err
	}
	childEnv := []string{"SIGNET_BENCH_PASSWORD=" + password, "SIGNET_BENCH_PASSWORD_HASH=" + hash}

	var configs []config
	for _, m := range o.Modes {
		configs = append(configs, config{name: m, mode: m})
	}
	if o.Gateways > 0 {
		for _, m := range []string{ModePlain, ModeStrict} {
			if slices.Contains(o.Modes, m) {
				configs = append(configs, config{name: fmt.Sprintf("%s, %d gateways", m, o.Gateways), mode: m, gateways: o.Gateways})
			}
		}
	}
	if o.Pin {
		for _, m := range o.Modes {
			if m != ModeMosquitto {
				configs = append(configs, config{name: m + ", pinned", mode: m, pinned: true})
			}
		}
	}
	b := &brokerBench{o: o, corpus: corpus, devFile: devFile, dir: dir, password: password, childEnv: childEnv, mosquitto: MosquittoPath()}
	rounds := max(1, o.Rounds)
	kinds := []string{runMax, runHalf}
	if o.Rate > 0 {
		kinds = append(kinds, runRate)
	}
	total := float64(len(kinds) * len(configs) * rounds)
	runs := 0.0
	var rows [][]ConfigResult // by round
	for round := range rounds {
		prefix := ""
		if rounds > 1 {
			prefix = fmt.Sprintf("round %d/%d: ", round+1, rounds)
		}
		var row []ConfigResult
		for _, c := range configs {
			res, notes, err := b.measureConfig(ctx, c, kinds, prefix, func(stage string, done float64) {
				o.Progress(stage, (runs+done)/total)
			})
			if err != nil {
				return rep, err
			}
			runs += float64(len(kinds))
			if round > 0 && res.Skipped != "" {
				notes = nil // said once
			}
			rep.Notes = append(rep.Notes, notes...)
			row = append(row, res)
		}
		rows = append(rows, row)
	}
	rep.summarize(rows)
	if rep.Budget != nil {
		o.Progress("verification floor", 1)
		if err := rep.Budget.measureFloor(); err != nil {
			return rep, fmt.Errorf("broker bench: %w", err)
		}
		rep.FloorCPUMicrosPerMsg = rep.Budget.Floor
	}
	o.Progress("done", 1)
	return rep, nil
}

func countOf(qos byte, r *LoadResult) uint64 {
	if qos == 0 {
		return r.Sent
	}
	return r.Acked
}

// brokerBench is what every run of one comparison shares.
type brokerBench struct {
	o         BrokerOptions
	corpus    *Corpus
	devFile   string // the registrations, for Signet's targets
	dir       string // scratch directory (mosquitto's config)
	password  string
	childEnv  []string
	mosquitto string // "" if not installed
}

// measureConfig runs one configuration: each run kind in kinds, in order
// (runMax first: the others take their rate from it), telling progress how
// many of its runs are done (fractions included). It returns the row and
// notes for the report.
func (b *brokerBench) measureConfig(ctx context.Context, c config, kinds []string, prefix string, progress func(stage string, fraction float64)) (ConfigResult, []string, error) {
	o := b.o
	res := ConfigResult{Name: c.name, Mode: c.mode, Gateway: c.gateways > 0, Pinned: c.pinned}
	if c.mode == ModeMosquitto && b.mosquitto == "" {
		res.Skipped = "mosquitto is not installed (apt-get install mosquitto to include it)"
		return res, []string{"mosquitto row skipped: not installed"}, nil
	}
	var notes []string
	for i, kind := range kinds {
		stage := prefix + c.name + ": max rate, closed loop"
		rate := 0.0
		switch kind {
		case runHalf:
			rate = res.MsgsPerSec / 2
			stage = fmt.Sprintf("%s%s: half load, %.0f msg/s", prefix, c.name, rate)
		case runRate:
			rate = o.Rate
			stage = fmt.Sprintf("%s%s: open loop, %.0f msg/s", prefix, c.name, rate)
		}
		r, err := b.runConfig(ctx, c, kind, rate, func(f float64) { progress(stage, float64(i)+f) })
		if err != nil {
			return res, nil, fmt.Errorf("broker bench: %s: %w", stage, err)
		}
		res.Connections = r.load.Connections
		perMsg := func(d time.Duration) float64 { // µs per counted message
			if n := countOf(o.QoS, r.load); n > 0 {
				return d.Seconds() * 1e6 / float64(n)
			}
			return 0
		}
		cpuPerMsg := perMsg(r.cpu)
		latency := r.load.PubAck
		if o.QoS == 0 {
			latency = r.load.Delivery
		}
		switch kind {
		case runMax:
			res.MsgsPerSec, res.Sent, res.Acked, res.Rejected, res.Exhausted = r.load.MsgsPerSec, r.load.Sent, r.load.Acked, r.load.Rejected, r.load.Exhausted
			res.CPUSeconds, res.CPUMicrosPerMsg = r.cpu.Seconds(), cpuPerMsg
			res.DriverCPUMicrosPerMsg = perMsg(r.driverCPU)
			if r.load.Seconds > 0 {
				res.MachineBusy = (r.cpu + r.driverCPU).Seconds() / (r.load.Seconds * float64(runtime.NumCPU()))
			}
			res.OthersBusy, res.Steal = r.machine.others, r.machine.steal
			res.P50Ms, res.P99Ms = millis(r.load.PubAck.Quantile(0.5)), millis(r.load.PubAck.Quantile(0.99))
			res.DeliveryP99Ms = millis(r.load.Delivery.Quantile(0.99))
			res.MaxStages, res.MaxRuntime = r.stages, r.runtime
			if r.stages != nil {
				res.MeanBatchAtMax = r.stages.Batching.MeanBatch
			}
			if res.MsgsPerSec <= 0 {
				return res, nil, fmt.Errorf("broker bench: %s%s: no message was acknowledged", prefix, c.name)
			}
		case runHalf:
			res.HalfRate, res.HalfMsgsPerSec = rate, r.load.MsgsPerSec
			res.HalfP50Ms, res.HalfP99Ms, res.HalfP999Ms = millis(r.load.PubAck.Quantile(0.5)), millis(r.load.PubAck.Quantile(0.99)), millis(r.load.PubAck.Quantile(0.999))
			res.HalfStateP99Ms, res.HalfTelemetryP99Ms = millis(r.load.StatePubAck.Quantile(0.99)), millis(r.load.TelemetryPubAck.Quantile(0.99))
			res.HalfDeliveryP50Ms, res.HalfDeliveryP99Ms = millis(r.load.Delivery.Quantile(0.5)), millis(r.load.Delivery.Quantile(0.99))
			res.HalfCPUMicrosPerMsg = cpuPerMsg
			res.HalfStages, res.HalfRuntime = r.stages, r.runtime
			res.HalfOthersBusy, res.HalfSteal = r.machine.others, r.machine.steal
			if r.stages != nil {
				res.MeanBatchAtHalfLoad = r.stages.Batching.MeanBatch
			}
			res.HalfCDF = latency.CDF()
			res.Rejected += r.load.Rejected
		case runRate:
			res.RateTarget, res.RateMsgsPerSec, res.RateCPUMicrosPerMsg, res.RateStages, res.RateRuntime = rate, r.load.MsgsPerSec, cpuPerMsg, r.stages, r.runtime
			res.RateP50Ms, res.RateP99Ms, res.RateP999Ms = millis(latency.Quantile(0.5)), millis(latency.Quantile(0.99)), millis(latency.Quantile(0.999))
			res.Rejected += r.load.Rejected
		}
	}
	if res.Exhausted {
		notes = append(notes, fmt.Sprintf("%s%s: connections ran out of corpus before the end of the run, so the run was shorter and ended with fewer busy connections (use more --messages)", prefix, c.name))
	}
	if res.Rejected > 0 {
		notes = append(notes, fmt.Sprintf("%s%s: %d messages were refused (security events); the corpus should be all valid", prefix, c.name, res.Rejected))
	}
	if n := disturbedNote(prefix, res); n != "" {
		notes = append(notes, n)
	}
	return res, notes, nil
}

// disturbedNote says so when the rest of the machine took disturbedShare
// or more of it in either of a row's windows ("" otherwise).
func disturbedNote(prefix string, res ConfigResult) string {
	maxWin, half := res.OthersBusy+res.Steal, res.HalfOthersBusy+res.HalfSteal
	if max(maxWin, half) < disturbedShare {
		return ""
	}
	return fmt.Sprintf("%s%s: the rest of the machine took %.0f%% of its CPUs during the max-rate window and %.0f%% at half load (other processes and interrupts %.0f%% / %.0f%%, the hypervisor's steal %.0f%% / %.0f%%): compare its figures with care",
		prefix, res.Name, 100*maxWin, 100*half, 100*res.OthersBusy, 100*res.HalfOthersBusy, 100*res.Steal, 100*res.HalfSteal)
}

// disturbedShare is how much of the machine the rest of it (other
// processes, interrupts, steal) may take in a window before the run is
// noted as disturbed.
const disturbedShare = 0.10

// The runs of a configuration, also the names of their profiles.
const (
	runMax  = "max"  // closed loop: the maximum rate
	runHalf = "half" // open loop at half the maximum: latency
	runRate = "rate" // open loop at BrokerOptions.Rate
)

// runResult is one measured run.
type runResult struct {
	load      *LoadResult
	cpu       time.Duration // the broker's, in the measured window
	driverCPU time.Duration // this process's (the driver), in the same window
	stages    *Stages       // a Signet broker's, from its metrics, in the same window
	runtime   *RuntimeStats // a Go broker's runtime, in the same window
	machine   machineShares // the rest of the machine, in the same window
}

// runConfig starts a fresh broker (a fresh store: the corpus's counters
// start over), runs the load against it and stops it.
func (b *brokerBench) runConfig(ctx context.Context, c config, kind string, rate float64, progress func(float64)) (runResult, error) {
	o, corpus, password := b.o, b.corpus, b.password
	var p *Process
	var err error
	if c.mode == ModeMosquitto {
		p, err = StartMosquitto(ctx, b.mosquitto, b.dir)
	} else {
		argv := append(slices.Clone(o.TargetCommand), "--mode", c.mode, "--addr", "127.0.0.1:0", "--devices", b.devFile)
		if o.ProfileDir != "" {
			argv = append(argv, "--cpuprofile", filepath.Join(o.ProfileDir, fmt.Sprintf("%s-%s.pprof", fileName(c.name), kind)))
		}
		if o.TraceDir != "" {
			argv = append(argv, "--trace", filepath.Join(o.TraceDir, fmt.Sprintf("%s-%s.trace", fileName(c.name), kind)))
		}
		if c.pinned {
			argv = pinnedArgv(argv)
		}
		p, err = StartChild(ctx, c.name, argv, b.childEnv)
	}
	if err != nil {
		return runResult{}, err
	}
	if c.pinned {
		restore, err := pinSelf([]int{pinnedDriverCPU})
		if err != nil {
			p.Stop()
			return runResult{}, fmt.Errorf("%s: pinning the driver: %w", c.name, err)
		}
		defer restore()
	}
	signet := c.mode == ModeStrict || c.mode == ModeRelaxed || c.mode == ModeStrictNATS
	lo := LoadOptions{
		Addr: p.Addr(), Corpus: corpus, QoS: o.QoS, Gateways: c.gateways, Rate: rate,
		Duration: o.Duration, Warmup: o.Warmup, Inflight: o.Inflight, SampleZone: corpus.Devices[0].Zone,
		Login: Login{User: "bench", Password: password, SubscriberUser: "bench", SubscriberPassword: password},
	}
	if signet {
		lo.Login = Login{DeviceTokens: true, User: TargetGatewayUser, Password: password, SubscriberUser: TargetAdminUser, SubscriberPassword: password}
	}
	var cpu, driverStart, driverCPU time.Duration
	var cpuErr error
	var mu sync.Mutex
	stopTicker := make(chan struct{})
	var tickers sync.WaitGroup
	var machineStart, machineEnd machineTimes
	lo.Started = func() {
		var err error
		machineStart, err = readMachineTimes()
		cpuErr = errors.Join(cpuErr, err)
		driverStart = processCPU()
		cpuErr = errors.Join(cpuErr, p.Tell("profile start"), p.MarkCPU())
		start := time.Now()
		tickers.Add(1)
		go func() {
			defer tickers.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopTicker:
					return
				case <-t.C:
					mu.Lock()
					progress(min(1, float64(time.Since(start))/float64(o.Duration)))
					mu.Unlock()
				}
			}
		}()
	}
	var window Window
	lo.Ended = func() {
		var err, stErr error
		cpu, err = p.CPUSince()
		driverCPU = processCPU() - driverStart
		var mErr error
		machineEnd, mErr = readMachineTimes()
		window, stErr = p.EndWindow()
		cpuErr = errors.Join(cpuErr, err, mErr, stErr)
	}
	load, err := RunLoad(ctx, lo)
	close(stopTicker)
	tickers.Wait()
	stopErr := p.Stop()
	if err != nil {
		return runResult{}, errors.Join(err, stopErr)
	}
	if cpuErr != nil {
		return runResult{}, cpuErr
	}
	if stopErr != nil {
		o.Logger.Warn("broker under test did not stop cleanly", "config", c.name, "err", stopErr)
	}
	machine := sharesBetween(machineStart, machineEnd, cpu, driverCPU, time.Duration(load.Seconds*float64(time.Second)), runtime.NumCPU())
	return runResult{load: load, cpu: cpu, driverCPU: driverCPU, stages: window.Stages, runtime: window.Runtime, machine: machine}, nil
}

// loadOrGenerate reads o.CorpusFile if it exists, else signs a new corpus
// (and writes it to o.CorpusFile if named).
func loadOrGenerate(ctx context.Context, o BrokerOptions) (*Corpus, error) {
	if o.CorpusFile != "" {
		if _, err := os.Stat(o.CorpusFile); err == nil {
			o.Progress("reading corpus "+o.CorpusFile, 0)
			return ReadCorpus(o.CorpusFile)
		}
	}
	o.Progress(fmt.Sprintf("signing corpus: %d devices × %d messages", o.Devices, o.Messages), 0)
	c, err := GenerateCorpus(ctx, CorpusOptions{Devices: o.Devices, Messages: o.Messages})
	if err != nil {
		return nil, err
	}
	if o.CorpusFile != "" {
		if err := c.WriteFile(o.CorpusFile); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// fileName makes a configuration name usable in a file name.
func fileName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
