package bench

import (
	"fmt"
	"strings"
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
}

// budgetOf computes the budget from one round's rows (nil without a
// measured strict row with one connection per device, or without plain
// and naive rows).
func budgetOf(rows []ConfigResult) *CPUBudget {
	byMode := map[string]ConfigResult{}
	for _, c := range rows {
		if !c.Gateway && !c.Pinned && c.Skipped == "" && c.MsgsPerSec > 0 {
			byMode[c.Mode] = c
		}
	}
	strict, ok := byMode[ModeStrict]
	if !ok {
		return nil
	}
	b := &CPUBudget{StrictBroker: strict.CPUMicrosPerMsg, StrictDriver: strict.DriverCPUMicrosPerMsg}
	allow := func(x ConfigResult, target float64) *float64 {
		us := (x.CPUMicrosPerMsg+x.DriverCPUMicrosPerMsg)/target - strict.DriverCPUMicrosPerMsg
		return &us
	}
	if plain, ok := byMode[ModePlain]; ok {
		b.ForPlain = allow(plain, TargetVsPlain)
		b.PlainBroker = plain.CPUMicrosPerMsg
	}
	if naive, ok := byMode[ModeNaive]; ok {
		b.ForNaive = allow(naive, TargetVsNaive)
	}
	if b.ForPlain == nil && b.ForNaive == nil {
		return nil
	}
	return b
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
	return s
}

// FloorBatch is the batch of the floor: the Verifier's largest
// (signing.VerifierConfig.MaxBatch's default).
const FloorBatch = 1024

// measureFloor measures BatchVerify (the median of three batches of
// FloorBatch distinct keys on one thread, in CPU time) and sets Floor.
// It needs a plain row.
func (b *CPUBudget) measureFloor() error {
	if b.PlainBroker <= 0 {
		return nil
	}
	stream, err := cityStream(FloorBatch, 3, false)
	if err != nil {
		return err
	}
	reps := make([]float64, 3)
	for i := range reps {
		batch := stream[i*FloorBatch : (i+1)*FloorBatch]
		if reps[i], err = timePerSig(FloorBatch, func() error { return verifyEdbatch(batch, FloorBatch) }); err != nil {
			return fmt.Errorf("verification floor: %w", err)
		}
	}
	b.BatchVerify = median(reps) / 1e3
	b.Floor = b.PlainBroker + b.BatchVerify
	return nil
}
