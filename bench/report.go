package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/signet-city/signet/broker"
)

// AllReport is every figure of one "signet bench" run, as written by
// --json and --report.
type AllReport struct {
	Machine Machine       `json:"machine"`
	Command string        `json:"command"`
	Broker  *BrokerReport `json:"broker,omitempty"`
	Store   []StoreResult `json:"store,omitempty"`
	Verify  *VerifyReport `json:"verify,omitempty"`
	// Kill is the crash run of "bench broker --kill N": strict killed with
	// SIGKILL N times under load and restarted (the fault harness).
	Kill *FaultReport `json:"kill,omitempty"`
}

// MarshalJSON writes the report with any NaN or infinite figure as 0
// (encoding/json refuses them; a tiny --quick run can divide by zero).
func (r *AllReport) MarshalJSON() ([]byte, error) {
	type plain AllReport
	c := plain(*r)
	c.Verify = finiteVerify(c.Verify)
	return json.Marshal(c)
}

// finiteVerify is a copy of v with NaN and infinite figures set to 0.
func finiteVerify(v *VerifyReport) *VerifyReport {
	if v == nil {
		return nil
	}
	c := *v
	zeroNonFinite(reflect.ValueOf(&c).Elem())
	return &c
}

// zeroNonFinite sets every NaN or infinite float in v (a settable struct,
// slice or float) to 0. Slices are copied first, so v's original shares
// nothing that changes.
func zeroNonFinite(v reflect.Value) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			v.SetFloat(0)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				zeroNonFinite(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := range c.Len() {
			zeroNonFinite(c.Index(i))
		}
	}
}

// Report plot files, in dir.
const (
	PlotThroughput = "throughput.png"
	PlotLatencyCDF = "latency_cdf.png"
	PlotCPU        = "cpu_per_message.png"
	ReportFile     = "report.md"
)

// WriteReport writes dir/report.md and, with broker figures, the PNG plots
// it shows: throughput by configuration, the half-load latency CDF and the
// broker's CPU per message.
func WriteReport(dir string, r *AllReport) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if r.Broker != nil {
		if err := writePlots(dir, r.Broker); err != nil {
			return err
		}
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Signet benchmark report")
	p("")
	p("| | |")
	p("|---|---|")
	p("| machine | %s, %d cores, %s |", r.Machine.CPU, r.Machine.Cores, r.Machine.OS)
	p("| Go | %s |", r.Machine.GoVersion)
	p("| commit | %s |", r.Machine.Commit)
	p("| when | %s |", r.Machine.Time.Format("2006-01-02 15:04 MST"))
	p("| command | `%s` |", r.Command)
	p("")
	p("Every figure comes from this one run on this machine; compare ratios, not")
	p("absolute rates, across machines or runs.")
	if br := r.Broker; br != nil {
		p("")
		p("## Broker ingress")
		p("")
		p("Corpus: %d devices × %d pre-signed messages (Ed25519, telemetry and state), QoS %d, %.1f s per run after %.1f s of warm-up.", br.Devices, br.Messages, br.QoS, br.Seconds, br.Warmup)
		p("Each configuration runs in its own process on a fresh store: first closed loop (its maximum")
		p("rate and the broker's CPU per message, from /proc), then open loop at half that rate (latency).")
		p("Every Go broker (plain, naive, batch, relaxed, strict) has the mochi options, garbage collector and")
		p("scheduler policy of `signet serve` (gc_percent %d, memory_limit_mib %d, GOMAXPROCS %d per CPU,", broker.DefaultGCPercent, broker.DefaultMemoryLimitMiB, broker.DefaultProcsPerCPU)
		p("unless GOGC, GOMEMLIMIT or GOMAXPROCS is set), so that they differ only in hooks.")
		p("")
		of := ""
		if len(br.Rounds) > 1 {
			of = fmt.Sprintf(" (medians of %d rounds)", len(br.Rounds))
		}
		if line := br.Figures.Summary(); line != "" {
			p("**%s%s.** Plain is mochi with no hooks; naive is mochi with a crypto/ed25519 hook.", line, of)
		}
		p("(Targets: ≥ %.1fx plain, ≥ %.1fx naive; half-load p99 ≤ %d ms for telemetry, ≤ %d ms for state.)", TargetVsPlain, TargetVsNaive, TargetTelemetryP99Ms, TargetStateP99Ms)
		if br.Budget != nil {
			p("")
			p("%s. The model behind it is in bench/budget.go.", br.Budget.Describe())
			if c := br.Budget.DescribeBatches(); c != "" {
				p("")
				p("%s.", c)
			}
			if c := br.Budget.DescribeCeilings(); c != "" {
				p("")
				p("%s.", c)
			}
			if c := br.Budget.DescribeMeasured(); c != "" {
				p("")
				p("%s.", c)
			}
		}
		p("")
		p("| configuration | connections | msg/s | vs plain | broker CPU µs/msg | driver CPU µs/msg | machine busy | others | steal | p50 ms | p99 ms | half-load msg/s | half CPU µs/msg | half p50 ms | half p99 ms | half p99.9 ms | delivery p99 ms (half) |")
		p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
		for _, c := range br.Configs {
			if c.Skipped != "" {
				p("| %s | – | skipped: %s | | | | | | | | | | | | | | |", c.Name, c.Skipped)
				continue
			}
			ratio := 0.0
			if plain := br.RowFigures().PlainMsgsPerSec; plain > 0 {
				ratio = c.MsgsPerSec / plain
			}
			p("| %s | %d | %.0f | %.2fx | %.1f | %.1f | %.0f%% | %.0f%% | %.0f%% | %.2f | %.2f | %.0f | %.1f | %.2f | %.2f | %.2f | %.2f |", c.Name, c.Connections, c.MsgsPerSec, ratio,
				c.CPUMicrosPerMsg, c.DriverCPUMicrosPerMsg, 100*c.MachineBusy, 100*c.OthersBusy, 100*c.Steal, c.P50Ms, c.P99Ms, c.HalfMsgsPerSec, c.HalfCPUMicrosPerMsg, c.HalfP50Ms, c.HalfP99Ms, c.HalfP999Ms, c.HalfDeliveryP99Ms)
		}
		stagesTable(p, "Inside the broker at its maximum rate, from its own latency histograms (`signet_verify_seconds`, `signet_signature_wait_seconds`, `signet_commit_seconds`), its verifier's counters (mean batch: signatures per Ed25519 verification, one verified alone counting as a batch of one) and its group committer's (changes per commit: changes per store transaction, `signet_store_changes_total` over `signet_store_transactions_total`):",
			br.Configs, func(c ConfigResult) *Stages { return c.MaxStages })
		stagesTable(p, "Inside the broker at half load:", br.Configs, func(c ConfigResult) *Stages { return c.HalfStages })
		runtimeTable(p, br.Configs)
		if br.Rate > 0 {
			p("")
			p("Open loop at %.0f msg/s, the same load for every configuration (latency: publish to PUBACK, or to delivery at QoS 0):", br.Rate)
			p("")
			p("| configuration | msg/s | broker CPU µs/msg | p50 ms | p99 ms | p99.9 ms |")
			p("|---|--:|--:|--:|--:|--:|")
			for _, c := range br.Configs {
				if c.Skipped == "" {
					p("| %s | %.0f | %.1f | %.2f | %.2f | %.2f |", c.Name, c.RateMsgsPerSec, c.RateCPUMicrosPerMsg, c.RateP50Ms, c.RateP99Ms, c.RateP999Ms)
				}
			}
			stagesTable(p, fmt.Sprintf("Inside the broker at %.0f msg/s:", br.Rate), br.Configs, func(c ConfigResult) *Stages { return c.RateStages })
		}
		if len(br.Rounds) > 1 {
			p("")
			p("The rows above are round %d of %d, the median round by strict vs plain. Each round measured every", br.MedianRound+1, len(br.Rounds))
			p("configuration once; the figures in bold are the medians of each figure across rounds:")
			p("")
			p("| round | plain msg/s | naive msg/s | strict msg/s | strict vs plain | strict vs naive | half-load p99 ms |")
			p("|---|--:|--:|--:|--:|--:|--:|")
			for i, f := range br.Rounds {
				p("| %d | %.0f | %.0f | %.0f | %.2fx | %.2fx | %.2f |", i+1, f.PlainMsgsPerSec, f.NaiveMsgsPerSec, f.SignetMsgsPerSec, f.RatioVsPlain, f.RatioVsNaive, f.P99MsAtHalfLoad)
			}
			f := br.Figures
			p("| median | %.0f | %.0f | %.0f | %.2fx | %.2fx | %.2f |", f.PlainMsgsPerSec, f.NaiveMsgsPerSec, f.SignetMsgsPerSec, f.RatioVsPlain, f.RatioVsNaive, f.P99MsAtHalfLoad)
		}
		for _, n := range br.Notes {
			p("")
			p("Note: %s", n)
		}
		p("")
		p("![throughput by configuration](%s)", PlotThroughput)
		p("")
		p("![latency CDF at half load](%s)", PlotLatencyCDF)
		p("")
		p("![CPU per message, broker and driver, with strict's budget and floor](%s)", PlotCPU)
	}
	if len(r.Store) > 0 {
		p("")
		p("## Store group commit")
		p("")
		p("| devices | mode | committers | commits/s | p50 ms | p99 ms | transactions | mean batch |")
		p("|--:|---|--:|--:|--:|--:|--:|--:|")
		for _, s := range r.Store {
			p("| %d | %s | %d | %.0f | %.2f | %.2f | %d | %.1f |", s.Devices, s.Mode, s.Committers, s.CommitsPerSec, s.P50Millis, s.P99Millis, s.Transactions, s.MeanBatch)
		}
	}
	if r.Verify != nil {
		// The verify figures are listed by their JSON names, so that this
		// report follows bench/verify.go as its fields change.
		var fields map[string]any
		data, err := json.Marshal(finiteVerify(r.Verify))
		if err == nil {
			err = json.Unmarshal(data, &fields)
		}
		if err != nil {
			return fmt.Errorf("report: verify figures: %w", err)
		}
		p("")
		p("## Ed25519 verification")
		p("")
		p("| figure | value |")
		p("|---|--:|")
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			if v, ok := fields[k].(float64); ok {
				p("| %s | %.4g |", k, v)
			}
		}
	}
	path := filepath.Join(dir, ReportFile)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

// runtimeTable writes what each Go broker's runtime did in its windows:
// a half-load tail that a collection or a long wait for a CPU explains is
// not a stage of the broker's.
func runtimeTable(p func(string, ...any), rows []ConfigResult) {
	header := false
	for _, c := range rows {
		cells, ok := RuntimeCells(c)
		if !ok {
			continue
		}
		if !header {
			p("")
			p("The Go runtime of each broker in its windows (runtime/metrics): collections completed, the CPU goroutines spent assisting the collector, and how long goroutines that were ready to run waited for a CPU (`/sched/latencies:seconds`):")
			p("")
			p("| configuration | %s |", strings.Join(RuntimeColumns, " | "))
			p("|---%s|", strings.Repeat("|--:", len(RuntimeColumns)))
			header = true
		}
		p("| %s | %.0f | %.2f | %.0f | %.1f | %.3f | %.2f |", append([]any{c.Name}, cells...)...)
	}
}

// stagesTable writes, under intro, where each row's messages spent their
// time, for the rows whose broker reports it (nothing if none does).
func stagesTable(p func(string, ...any), intro string, rows []ConfigResult, of func(ConfigResult) *Stages) {
	stages := StageRows(rows, of)
	if len(stages) == 0 {
		return
	}
	p("")
	p("%s", intro)
	p("")
	p("| configuration | %s |", strings.Join(StageColumns, " | "))
	p("|---%s|", strings.Repeat("|--:", len(StageColumns)))
	for _, r := range stages {
		p("| %s | %s |", r.Name, strings.Join(r.Stages.Cells(), " | "))
	}
}
