package bench

import (
	"fmt"
	"sort"
)

// summarize fills the acceptance figures from each round's rows: with one
// round, that round's; with more, the median of each figure across rounds,
// and the rows of the median round.
func (r *BrokerReport) summarize(rounds [][]ConfigResult) {
	if len(rounds) == 0 {
		return
	}
	figs := make([]Figures, len(rounds))
	for i, rows := range rounds {
		figs[i] = figuresOf(rows, r.QoS)
	}
	defer func() { r.Budget = budgetOf(r.Configs) }()
	if len(rounds) == 1 {
		r.Figures, r.Configs = figs[0], rounds[0]
		return
	}
	r.Rounds = figs
	med := func(f func(Figures) float64) float64 {
		v := make([]float64, len(figs))
		for i, fg := range figs {
			v[i] = f(fg)
		}
		return median(v)
	}
	r.Figures = Figures{
		PlainMsgsPerSec:  med(func(f Figures) float64 { return f.PlainMsgsPerSec }),
		NaiveMsgsPerSec:  med(func(f Figures) float64 { return f.NaiveMsgsPerSec }),
		SignetMsgsPerSec: med(func(f Figures) float64 { return f.SignetMsgsPerSec }),
		RatioVsPlain:     med(func(f Figures) float64 { return f.RatioVsPlain }),
		RatioVsNaive:     med(func(f Figures) float64 { return f.RatioVsNaive }),
		P99MsAtHalfLoad:  med(func(f Figures) float64 { return f.P99MsAtHalfLoad }),

		TelemetryP99MsAtHalfLoad:   med(func(f Figures) float64 { return f.TelemetryP99MsAtHalfLoad }),
		StateP99MsAtHalfLoad:       med(func(f Figures) float64 { return f.StateP99MsAtHalfLoad }),
		StrictCPUMicrosPerMsg:      med(func(f Figures) float64 { return f.StrictCPUMicrosPerMsg }),
		MeanBatchAtMax:             med(func(f Figures) float64 { return f.MeanBatchAtMax }),
		MeanBatchAtHalfLoad:        med(func(f Figures) float64 { return f.MeanBatchAtHalfLoad }),
		GatewayRatioVsPlainGateway: med(func(f Figures) float64 { return f.GatewayRatioVsPlainGateway }),
		PinnedRatioVsPlain:         med(func(f Figures) float64 { return f.PinnedRatioVsPlain }),
	}
	// The median round by ratio (the lower middle one of an even count).
	order := make([]int, len(figs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return figs[order[a]].RatioVsPlain < figs[order[b]].RatioVsPlain })
	r.MedianRound = order[(len(order)-1)/2]
	r.Configs = rounds[r.MedianRound]
}

// figuresOf takes the acceptance figures from one round's rows.
func figuresOf(rows []ConfigResult, qos int) Figures {
	var f Figures
	var pinnedPlain, pinnedStrict, gatewayPlain, gatewayStrict float64
	for _, c := range rows {
		if c.Gateway && c.Skipped == "" {
			switch c.Mode {
			case ModePlain:
				gatewayPlain = c.MsgsPerSec
			case ModeStrict:
				gatewayStrict = c.MsgsPerSec
			}
		}
		if c.Pinned && c.Skipped == "" {
			switch c.Mode {
			case ModePlain:
				pinnedPlain = c.MsgsPerSec
			case ModeStrict:
				pinnedStrict = c.MsgsPerSec
			}
			continue
		}
		if c.Gateway || c.Skipped != "" {
			continue
		}
		switch c.Mode {
		case ModePlain:
			f.PlainMsgsPerSec = c.MsgsPerSec
		case ModeNaive:
			f.NaiveMsgsPerSec = c.MsgsPerSec
		case ModeStrict:
			f.SignetMsgsPerSec = c.MsgsPerSec
			f.P99MsAtHalfLoad = c.HalfP99Ms
			f.TelemetryP99MsAtHalfLoad, f.StateP99MsAtHalfLoad = c.HalfTelemetryP99Ms, c.HalfStateP99Ms
			f.StrictCPUMicrosPerMsg = c.CPUMicrosPerMsg
			f.MeanBatchAtMax, f.MeanBatchAtHalfLoad = c.MeanBatchAtMax, c.MeanBatchAtHalfLoad
			if qos == 0 {
				f.P99MsAtHalfLoad = c.HalfDeliveryP99Ms
			}
		}
	}
	if f.PlainMsgsPerSec > 0 {
		f.RatioVsPlain = f.SignetMsgsPerSec / f.PlainMsgsPerSec
	}
	if f.NaiveMsgsPerSec > 0 {
		f.RatioVsNaive = f.SignetMsgsPerSec / f.NaiveMsgsPerSec
	}
	if pinnedPlain > 0 {
		f.PinnedRatioVsPlain = pinnedStrict / pinnedPlain
	}
	if gatewayPlain > 0 {
		f.GatewayRatioVsPlainGateway = gatewayStrict / gatewayPlain
	}
	return f
}

// RowFigures are the figures of the round whose rows are in Configs, for
// ratios between rows.
func (r *BrokerReport) RowFigures() Figures {
	if len(r.Rounds) > 1 && r.MedianRound < len(r.Rounds) {
		return r.Rounds[r.MedianRound]
	}
	return r.Figures
}

// Summary says the acceptance figures in one line: strict's rate, its
// ratios to plain and naive (or that a baseline was not measured) and its
// half-load p99; "" when strict was not measured.
func (f Figures) Summary() string {
	if f.SignetMsgsPerSec <= 0 {
		return ""
	}
	ratio := func(r, base float64, name string) string {
		if base <= 0 {
			return "no " + name + " run"
		}
		return fmt.Sprintf("%.2fx %s", r, name)
	}
	line := fmt.Sprintf("signet (strict) %.0f msg/s: %s, %s; p99 publish-to-PUBACK at half load %.2f ms",
		f.SignetMsgsPerSec, ratio(f.RatioVsPlain, f.PlainMsgsPerSec, "plain"), ratio(f.RatioVsNaive, f.NaiveMsgsPerSec, "naive"), f.P99MsAtHalfLoad)
	if f.PinnedRatioVsPlain > 0 {
		line += fmt.Sprintf("; pinned to one core each, %.2fx plain", f.PinnedRatioVsPlain)
	}
	return line
}
