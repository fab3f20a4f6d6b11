package model

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
)

// honestRun steps a model of kind from start every step until end and
// judges every state and telemetry message as the broker does (the
// profile's patch and state rules on a twin, kinds.CheckTelemetry against
// that twin). It fails the test on any refusal and returns the counts.
func honestRun(t *testing.T, kind string, params json.RawMessage, start, end time.Time, step time.Duration) (states, tele, faults int) {
	t.Helper()
	m, err := New(kind, params, 7)
	if err != nil {
		t.Fatal(err)
	}
	profile, _ := kinds.Lookup(kind)
	doc := twin.New("d", "z", kind)
	for now := start; now.Before(end); now = now.Add(step) {
		for _, p := range m.Step(now) {
			switch p.Class {
			case topic.State:
				states++
				hadFault := doc.Reported[kinds.FaultField] != nil
				if err := doc.ApplyReportedWith(p.Payload, twin.FieldMeta{}, twin.Rules{
					Patch:    func(patch map[string]any) error { return kinds.ValidatePatch(profile, patch) },
					Validate: func(prev, next map[string]any) error { return profile.ValidateReported(params, prev, next) },
				}); err != nil {
					t.Fatalf("%s at %s: state %s refused: %v", kind, now, p.Payload, err)
				}
				if !hadFault && doc.Reported[kinds.FaultField] != nil {
					faults++
				}
			case topic.Tele:
				tele++
				if err := kinds.CheckTelemetry(kind, params, doc.Reported, p.Name, p.Payload); err != nil {
					t.Fatalf("%s at %s: %s %s refused: %v", kind, now, p.Name, p.Payload, err)
				}
			}
		}
	}
	if states == 0 || tele == 0 {
		t.Fatalf("%s: %d states and %d readings", kind, states, tele)
	}
	return states, tele, faults
}

// TestHonestModelsAreNeverRefused runs every sensor and lamp model for
// simulated hours at one reading a second, and for a simulated week at
// one a minute, with the broker's rules: not one message is refused.
func TestHonestModelsAreNeverRefused(t *testing.T) {
	start := time.Date(2026, 6, 21, 6, 0, 0, 0, time.UTC)
	for _, kind := range []string{"loop-detector", "streetlight", "air-quality"} {
		runs := []json.RawMessage{nil}
		if p, ok := kindParams[kind]; ok {
			runs = append(runs, p)
		}
		for _, params := range runs {
			honestRun(t, kind, params, start, start.Add(3*time.Hour), time.Second)
			_, _, faults := honestRun(t, kind, params, start, start.Add(7*24*time.Hour), time.Minute)
			t.Logf("%s %s: %d faults in a week", kind, params, faults)
		}
	}
}

// kindParams are non-default params a kind is also run with.
var kindParams = map[string]json.RawMessage{
	"streetlight": json.RawMessage(`{"rated_w":250,"standby_w":5,"tolerance_pct":10}`),
}

// TestAirQualityStaysPutForAWeek: a week of readings a minute apart stays
// around the site's level (the model once random-walked PM2.5 from 1 to
// 104 µg/m³ in a simulated week), with the daily cycle showing: the rush
// hours are dirtier than the small hours.
func TestAirQualityStaysPutForAWeek(t *testing.T) {
	m := NewAirQuality(newRng(3))
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	lo, hi := 1e9, 0.0
	var rush, night, nRush, nNight float64
	for now := start; now.Before(start.Add(7 * 24 * time.Hour)); now = now.Add(time.Minute) {
		for _, p := range m.Step(now) {
			if p.Class != topic.Tele {
				continue
			}
			var r map[string]float64
			var raw map[string]json.RawMessage
			json.Unmarshal(p.Payload, &raw)
			delete(raw, "units")
			b, _ := json.Marshal(raw)
			json.Unmarshal(b, &r)
			pm := r["pm25"]
			lo, hi = min(lo, pm), max(hi, pm)
			switch h := now.Hour(); {
			case h == 8 || h == 18:
				rush, nRush = rush+pm, nRush+1
			case h >= 2 && h < 4:
				night, nNight = night+pm, nNight+1
			}
		}
	}
	base := m.base
	if lo < base/4 || hi > base*6 {
		t.Fatalf("PM2.5 over a week: %.1f..%.1f µg/m³ for a site at %.1f", lo, hi, base)
	}
	if rush/nRush <= night/nNight {
		t.Fatalf("no daily cycle: rush hours %.1f, small hours %.1f µg/m³", rush/nRush, night/nNight)
	}
	t.Logf("PM2.5 %.1f..%.1f µg/m³ (site %.1f); rush %.1f, night %.1f", lo, hi, base, rush/nRush, night/nNight)
}

func newRng(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x5eed)) }
