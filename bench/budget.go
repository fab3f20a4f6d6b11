package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/signet-city/signet/signing"
)

// The targets of DESIGN.md ("Targets") that the broker comparison reports
// against: Signet strict, QoS 1, one connection per device.
const (
	TargetVsPlain = 0.6 // at least this fraction of plain mochi's msg/s
	TargetVsNaive = 1.3 // at least this many times the naive hook's msg/s
	// At most these p99 publish-to-PUBACK at half of strict's maximum rate:
	// telemetry, and state messages (durable with their twin).
	TargetTelemetryP99Ms = 5
	TargetStateP99Ms     = 10
	// TargetGatewayVsPlain is for strict with --gateways connections
	// against plain with as many; TargetPinnedVsPlain for each broker
	// pinned to one core (--pin).
	TargetGatewayVsPlain = 0.4
	TargetPinnedVsPlain  = 0.55
	// TargetFloorRatio is the most strict's broker CPU per message may be
	// over its floor (CPUBudget.Floor).
	TargetFloorRatio = 1.3
)

// CPUBudget says how much CPU per message the throughput targets leave
// Signet's broker, from one round's closed-loop runs, and how much it spent.
//
// The model: the broker under test and the load driver share the machine's
// CPUs, and at its maximum rate each configuration keeps them busy (see
// ConfigResult.MachineBusy). A configuration's rate is then the CPUs
// divided by its machine CPU per message (broker + driver), so strict
// reaches a ratio T of configuration X only if
//
//	strict broker ≤ (X broker + X driver) / T − strict driver
//
// per message. When strict's broker already spends more than that, the
// target cannot be met on this machine by any change that leaves the
// driver and the other configuration as they are.
type CPUBudget struct {
	// StrictBroker is what strict's broker spent per message (µs).
	StrictBroker float64 `json:"strict_broker_cpu_us_per_msg"`
	// StrictDriver is what the driver spent per strict message (µs).
	StrictDriver float64 `json:"strict_driver_cpu_us_per_msg"`
	// PlainBroker is what plain mochi's broker spent per message (µs; 0:
	// no plain row). Strict's broker does all that mochi does, and more.
	PlainBroker float64 `json:"plain_broker_cpu_us_per_msg,omitempty"`
	// BatchVerify is one signature's share of an Ed25519 batch of
	// FloorBatch on one thread, measured after the runs (µs; 0: not
	// measured), and Floor is PlainBroker + BatchVerify: the least
	// strict's broker could spend per message, were checking a message
	// nothing but its share of the largest batch.
	BatchVerify float64 `json:"batch_verify_us_per_sig,omitempty"`
	Floor       float64 `json:"strict_broker_floor_us,omitempty"`
	// ForPlain is the most strict's broker may spend for TargetVsPlain
	// (µs; nil: no plain row). It may be below zero.
	ForPlain *float64 `json:"strict_broker_budget_us_for_target_vs_plain,omitempty"`
	// ForNaive is the most strict's broker may spend for TargetVsNaive
	// (µs; nil: no naive row). It may be below zero.
	ForNaive *float64 `json:"strict_broker_budget_us_for_target_vs_naive,omitempty"`

	// MeanBatch is strict's mean Ed25519 batch at its maximum rate, and
	// SizeClasses its verifications there by size class (all zero from a
	// broker without the batch-size histogram). AtBatches is one
	// signature's share of the verifications as they formed: each class's
	// share measured on one thread, like BatchVerify, at a batch of the
	// class's middle size (classBatch), weighted by the signatures the
	// class holds at that size; without the classes, at a batch of the mean
	// size (µs; 0: not measured). Own is the rest of what strict's broker
	// spent, StrictBroker − PlainBroker − AtBatches: Signet's own work
	// beside mochi's and the signatures'.
	MeanBatch   float64     `json:"mean_batch_at_max,omitempty"`
	SizeClasses sizeClasses `json:"size_classes_at_max"`
	AtBatches   float64     `json:"batch_verify_us_per_sig_at_batches_formed,omitempty"`
	Own         float64     `json:"strict_broker_own_us,omitempty"`
	// Ceilings are what the ratio targets' figures would be were strict's
	// broker at its floor, everything else as measured (nil until the
	// floor is measured). A target above its ceiling cannot be met on this machine
	// by any change to the broker alone.
	Ceilings *Ceilings `json:"ceilings_at_floor,omitempty"`
	// Measured is the floor broker as it ran beside strict (nil without a
	// batch row).
	Measured *MeasuredFloor `json:"floor_broker,omitempty"`

	plain, naive, gatewayPlain, gatewayStrict, pinnedPlain *ConfigResult // rows the ceilings need
}

// MeasuredFloor is the floor measured rather than modelled: the batch
// broker (ModeBatch: mochi, and every signature verified by Signet's
// Verifier, nothing else), at the batches that formed in it. A ratio
// target it misses cannot be met on this machine by any broker that
// verifies each message's signature this way, whatever else it leaves out.
type MeasuredFloor struct {
	// Broker is its broker's CPU per message at its maximum rate (µs),
	// OverFloor that over CPUBudget.Floor (0: no floor), and MeanBatch its
	// Verifier's mean batch there.
	Broker    float64 `json:"broker_cpu_us_per_msg"`
	OverFloor float64 `json:"over_floor,omitempty"`
	MeanBatch float64 `json:"mean_batch_at_max,omitempty"`
	// VsPlain is its msg/s over plain's (0: no plain row), PinnedVsPlain
	// the same with both pinned (0: not pinned).
	VsPlain       float64 `json:"ratio_vs_plain,omitempty"`
	PinnedVsPlain float64 `json:"pinned_ratio_vs_plain,omitempty"`
	// StrictOwn is what strict's broker spent beyond it (µs): Signet's own
	// work, measured.
	StrictOwn float64 `json:"strict_own_us"`
}

// Ceilings are what strict's ratios would be at its floor (0: the rows
// are missing). The shared-core ratios follow CPUBudget's model: X's
// machine CPU per message over strict's at its floor with its own
// driver's cost. A broker pinned to one core handles at most one second
// of CPU per second, so its rate is at most a second over its CPU per
// message; the pinned ceiling is that rate at the floor of pinned plain's
// broker, over pinned plain's measured rate.
type Ceilings struct {
	VsPlain  float64 `json:"ratio_vs_plain,omitempty"`
	VsNaive  float64 `json:"ratio_vs_naive,omitempty"`
	Gateways float64 `json:"gateway_ratio_vs_plain_gateway,omitempty"`
	Pinned   float64 `json:"pinned_ratio_vs_plain,omitempty"`
}

// budgetOf computes the budget from one round's rows (nil without a
// measured strict row with one connection per device, or without plain
// and naive rows).
func budgetOf(rows []ConfigResult) *CPUBudget {
	byMode := map[string]ConfigResult{}
	var b CPUBudget
	var pinnedBatch *ConfigResult
	for _, c := range rows {
		if c.Skipped != "" || c.MsgsPerSec <= 0 {
			continue
		}
		switch {
		case c.Gateway && c.Mode == ModePlain:
			b.gatewayPlain = &c
		case c.Gateway && c.Mode == ModeStrict:
			b.gatewayStrict = &c
		case c.Pinned && c.Mode == ModePlain:
			b.pinnedPlain = &c
		case c.Pinned && c.Mode == ModeBatch:
			pinnedBatch = &c
		case !c.Gateway && !c.Pinned:
			byMode[c.Mode] = c
		}
	}
	strict, ok := byMode[ModeStrict]
	if !ok {
		return nil
	}
	b.StrictBroker, b.StrictDriver, b.MeanBatch = strict.CPUMicrosPerMsg, strict.DriverCPUMicrosPerMsg, strict.MeanBatchAtMax
	if strict.MaxStages != nil {
		b.SizeClasses = strict.MaxStages.Batching.SizeClasses
	}
	allow := func(x ConfigResult, target float64) *float64 {
		us := (x.CPUMicrosPerMsg+x.DriverCPUMicrosPerMsg)/target - strict.DriverCPUMicrosPerMsg
		return &us
	}
	if plain, ok := byMode[ModePlain]; ok {
		b.ForPlain = allow(plain, TargetVsPlain)
		b.PlainBroker = plain.CPUMicrosPerMsg
		b.plain = &plain
	}
	if naive, ok := byMode[ModeNaive]; ok {
		b.ForNaive = allow(naive, TargetVsNaive)
		b.naive = &naive
	}
	if b.ForPlain == nil && b.ForNaive == nil {
		return nil
	}
	if batch, ok := byMode[ModeBatch]; ok {
		m := &MeasuredFloor{Broker: batch.CPUMicrosPerMsg, MeanBatch: batch.MeanBatchAtMax, StrictOwn: strict.CPUMicrosPerMsg - batch.CPUMicrosPerMsg}
		if b.plain != nil {
			m.VsPlain = batch.MsgsPerSec / b.plain.MsgsPerSec
		}
		if pinnedBatch != nil && b.pinnedPlain != nil {
			m.PinnedVsPlain = pinnedBatch.MsgsPerSec / b.pinnedPlain.MsgsPerSec
		}
		b.Measured = m
	}
	return &b
}

// Describe says the budget in one sentence, for the terminal and the
// report.
func (b *CPUBudget) Describe() string {
	s := fmt.Sprintf("CPU budget: strict's broker spent %.1f µs per message (the driver %.1f)", b.StrictBroker, b.StrictDriver)
	var parts []string
	if b.ForPlain != nil {
		parts = append(parts, fmt.Sprintf("%.1f µs for %.1fx plain", *b.ForPlain, TargetVsPlain))
	}
	if b.ForNaive != nil {
		parts = append(parts, fmt.Sprintf("%.1f µs for %.1fx naive", *b.ForNaive, TargetVsNaive))
	}
	s += "; with the same driver and machine, the targets allow it at most " + strings.Join(parts, " and ") +
		" (closed-loop runs; see machine busy: the model holds when it is near 1)"
	if b.Floor > 0 {
		s += fmt.Sprintf("; its floor, plain's broker plus one signature's share of an Ed25519 batch of %d, is %.1f µs (%.1f + %.1f)",
			FloorBatch, b.Floor, b.PlainBroker, b.BatchVerify)
	}
	if b.AtBatches > 0 {
		s += fmt.Sprintf("; of its %.1f µs, %.1f were plain's share, %.1f its signatures' in the batches that formed (mean %.0f) and %.1f Signet's own work",
			b.StrictBroker, b.PlainBroker, b.AtBatches, b.MeanBatch, b.Own)
	}
	return s
}

// DescribeBatches says how strict's signatures at its maximum rate were
// spread over batch sizes ("" without the size classes).
func (b *CPUBudget) DescribeBatches() string {
	w := b.SizeClasses.signatureShares()
	if w == nil {
		return ""
	}
	var parts []string
	small := false // classes with some signatures, under 0.5%
	for i, share := range w {
		switch {
		case share >= 0.005:
			parts = append(parts, fmt.Sprintf("%s %.0f%%", classRange(i), 100*share))
		case share > 0:
			small = true
		}
	}
	s := "Strict's signatures at its maximum rate, by the size of the batch they were verified in: " + strings.Join(parts, ", ")
	if small {
		s += " (other sizes under 0.5% each)"
	}
	return s
}

// classRange names size class i's batch sizes.
func classRange(i int) string {
	switch {
	case i == 0:
		return "alone"
	case i == 1:
		return "2"
	case i == signing.BatchSizeClasses-1:
		return fmt.Sprintf("%d+", 1<<(i-1)+1)
	}
	return fmt.Sprintf("%d-%d", 1<<(i-1)+1, 1<<i)
}

// classBatch is the batch size that stands for size class i: its middle
// (one signature alone for class 0; 2, 3, 6, 12, … for the others), at
// most FloorBatch.
func classBatch(i int) int {
	switch i {
	case 0:
		return 1
	case 1:
		return 2
	}
	return min(3<<(i-2), FloorBatch)
}

// signatureShares is the share of the signatures in each class, each
// class's verifications counted at classBatch signatures (nil if c
// counted nothing).
func (c sizeClasses) signatureShares() []float64 {
	var total float64
	for i, n := range c {
		total += float64(n) * float64(classBatch(i))
	}
	if total == 0 {
		return nil
	}
	w := make([]float64, len(c))
	for i, n := range c {
		w[i] = float64(n) * float64(classBatch(i)) / total
	}
	return w
}

// DescribeCeilings says the ceilings in one sentence beside their targets
// ("" without them).
func (b *CPUBudget) DescribeCeilings() string {
	c := b.Ceilings
	if c == nil {
		return ""
	}
	var parts []string
	add := func(what string, ceiling, target float64) {
		if ceiling > 0 {
			parts = append(parts, fmt.Sprintf("%.2fx %s (target %.2gx)", ceiling, what, target))
		}
	}
	add("plain", c.VsPlain, TargetVsPlain)
	add("naive", c.VsNaive, TargetVsNaive)
	add("plain, both on gateways", c.Gateways, TargetGatewayVsPlain)
	add("plain, both pinned", c.Pinned, TargetPinnedVsPlain)
	if len(parts) == 0 {
		return ""
	}
	return "Ceilings: were strict's broker at its floor, everything else as measured, strict would reach at most " +
		strings.Join(parts, ", ") + "; a target above its ceiling needs more than the broker's own work cut to nothing"
}

// DescribeMeasured says what the batch broker, the floor measured, spent
// and reached beside strict ("" without a batch row).
func (b *CPUBudget) DescribeMeasured() string {
	m := b.Measured
	if m == nil {
		return ""
	}
	s := fmt.Sprintf("Floor broker, measured (batch: mochi and Signet's verifier, nothing else): %.1f µs per message", m.Broker)
	if m.OverFloor > 0 {
		s += fmt.Sprintf(" (%.2fx the floor; the target is %.1fx)", m.OverFloor, TargetFloorRatio)
	}
	if m.MeanBatch > 0 {
		s += fmt.Sprintf(" at a mean batch of %.0f", m.MeanBatch)
	}
	if m.VsPlain > 0 {
		s += fmt.Sprintf(", %.2fx plain (target for strict %.2gx)", m.VsPlain, TargetVsPlain)
	}
	if m.PinnedVsPlain > 0 {
		s += fmt.Sprintf(", %.2fx plain both pinned (target %.2gx)", m.PinnedVsPlain, TargetPinnedVsPlain)
	}
	return s + fmt.Sprintf("; strict spent %.1f µs per message beyond it. A target the floor broker misses cannot be met by a broker that verifies every signature this way on this machine", m.StrictOwn)
}

// FloorBatch is the batch of the floor: the Verifier's largest
// (signing.VerifierConfig.MaxBatch's default).
const FloorBatch = 1024

// measureFloor measures BatchVerify (the least of floorReps batches of
// FloorBatch distinct keys on one thread, in CPU time) and sets Floor,
// and AtBatches, Own and Ceilings with it. It needs a plain row.
func (b *CPUBudget) measureFloor() error {
	if b.PlainBroker <= 0 {
		return nil
	}
	stream, err := cityStream(FloorBatch, 3, false)
	if err != nil {
		return err
	}
	if b.BatchVerify, err = perSigInBatches(stream, FloorBatch); err != nil {
		return err
	}
	if w := b.SizeClasses.signatureShares(); w != nil {
		for i, share := range w {
			if share == 0 {
				continue
			}
			us, err := perSigInBatches(stream, classBatch(i))
			if err != nil {
				return err
			}
			b.AtBatches += share * us
		}
	} else if mean := int(math.Round(b.MeanBatch)); mean >= 1 {
		if b.AtBatches, err = perSigInBatches(stream, min(mean, FloorBatch)); err != nil {
			return err
		}
	}
	b.setFloor()
	return nil
}

// floorReps is how many times each share is measured. The least is
// taken: another process or the hypervisor can only add to a measured
// CPU time, and a floor is what the work costs undisturbed.
const floorReps = 5

// perSigInBatches is one signature's share (µs, CPU time on one thread)
// of verifying a block of FloorBatch of stream in batches of size: the
// least of floorReps, taking stream's blocks in turn.
func perSigInBatches(stream []signed, size int) (float64, error) {
	reps := make([]float64, floorReps)
	blocks := len(stream) / FloorBatch
	for i := range reps {
		block := stream[i%blocks*FloorBatch : (i%blocks+1)*FloorBatch]
		sigs := FloorBatch / size * size
		verify := func() error { return verifyEdbatch(block, size) }
		if size == 1 { // as the Verifier verifies a signature alone
			verify = func() error { return verifyEdbatchSingly(block) }
		}
		var err error
		if reps[i], err = timePerSig(sigs, verify); err != nil {
			return 0, fmt.Errorf("verification floor: %w", err)
		}
	}
	return slices.Min(reps) / 1e3, nil
}

// setFloor derives Floor, Own and Ceilings from the measured shares.
func (b *CPUBudget) setFloor() {
	b.Floor = b.PlainBroker + b.BatchVerify
	if b.Measured != nil {
		b.Measured.OverFloor = b.Measured.Broker / b.Floor
	}
	if b.AtBatches > 0 {
		b.Own = b.StrictBroker - b.PlainBroker - b.AtBatches
	}
	// X's machine CPU per message over strict's at floor with strict's
	// driver (the model of CPUBudget).
	shared := func(x ConfigResult, floor, strictDriver float64) float64 {
		return (x.CPUMicrosPerMsg + x.DriverCPUMicrosPerMsg) / (floor + strictDriver)
	}
	c := &Ceilings{}
	if b.plain != nil {
		c.VsPlain = shared(*b.plain, b.Floor, b.StrictDriver)
	}
	if b.naive != nil {
		c.VsNaive = shared(*b.naive, b.Floor, b.StrictDriver)
	}
	if b.gatewayPlain != nil && b.gatewayStrict != nil {
		c.Gateways = shared(*b.gatewayPlain, b.gatewayPlain.CPUMicrosPerMsg+b.BatchVerify, b.gatewayStrict.DriverCPUMicrosPerMsg)
	}
	if p := b.pinnedPlain; p != nil && p.CPUMicrosPerMsg > 0 {
		c.Pinned = 1e6 / (p.CPUMicrosPerMsg + b.BatchVerify) / p.MsgsPerSec
	}
	b.Ceilings = c
}
