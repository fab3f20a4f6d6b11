package model

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
)

// AirQuality's concentrations are mean-reverting (Ornstein-Uhlenbeck)
// around a daily cycle: particulates and NO2 peak with the morning and
// evening traffic, ozone and temperature in the afternoon. Mean reversion
// keeps a week of readings where a city's air is, where a random walk
// would wander off to any value.
type AirQuality struct {
	rng                *rand.Rand
	pm25, no2, o3, tmp float64 // deviations from the daily mean
	base               float64 // the site's background PM2.5, µg/m³
	steps              int
	interval           time.Duration // set-interval; 0: every Step
	last               time.Time     // the last reading
}

// Mean reversion: deviations decay with airReversion and are driven so
// that they stay about airSpread of the mean (one standard deviation).
const (
	airReversion = time.Hour * 3
	airSpread    = 0.25
)

// NewAirQuality is a sensor at a site with a background PM2.5 of 8..18.
func NewAirQuality(rng *rand.Rand) *AirQuality {
	return &AirQuality{rng: rng, base: 8 + rng.Float64()*10}
}

// Command acts on set-interval and cancel (devices/catalog).
func (m *AirQuality) Command(name string, a catalog.Args) error {
	switch {
	case name == "set-interval":
		m.interval = time.Duration(a.Number("seconds") * float64(time.Second))
		m.last, m.steps = time.Time{}, 0 // a reading and a state report now
	case name == catalog.Cancel && a.String("command") == "set-interval":
		m.interval = 0
		m.last, m.steps = time.Time{}, 0
	case name != catalog.Cancel:
		return refuse("an air-quality sensor takes no command %q", name)
	}
	return nil
}

// Interval is the reading interval a set-interval command asked for (0:
// none, one reading per Step).
func (m *AirQuality) Interval() time.Duration { return m.interval }

// revert steps a relative deviation x over dt: exact OU decay, and noise
// whose stationary standard deviation is airSpread.
func (m *AirQuality) revert(x float64, dt time.Duration) float64 {
	a := math.Exp(-dt.Seconds() / airReversion.Seconds())
	return x*a + airSpread*math.Sqrt(1-a*a)*m.rng.NormFloat64()
}

// Step publishes a reading (at most one per set interval), and the state
// every tenth reading.
func (m *AirQuality) Step(now time.Time) []Publication {
	if m.interval > 0 && !m.last.IsZero() && now.Sub(m.last) < m.interval {
		return nil
	}
	dt := time.Minute
	if !m.last.IsZero() {
		dt = now.Sub(m.last)
	}
	m.last = now
	m.pm25, m.no2 = m.revert(m.pm25, dt), m.revert(m.no2, dt)
	m.o3, m.tmp = m.revert(m.o3, dt), m.revert(m.tmp, dt)
	h := float64(now.Hour()) + float64(now.Minute())/60
	traffic := 1 + 0.5*(bump(h, 8)+bump(h, 18))
	sun := math.Cos((h - 15) / 24 * 2 * math.Pi) // 1 at 15:00, -1 at 03:00
	pm25 := round1(m.base * traffic * math.Exp(m.pm25-airSpread*airSpread/2))
	temp := round1(14 + 5*sun + 2*m.tmp)
	r := map[string]any{
		"pm25": pm25, "pm10": round1(pm25 * 1.6),
		"no2":    round1(15 * traffic * math.Exp(m.no2-airSpread*airSpread/2)),
		"o3":     round1(30 * (1 + 0.3*sun) * math.Exp(m.o3-airSpread*airSpread/2)),
		"temp_c": temp, "humidity": round1(70 - 15*sun + m.rng.Float64()*5),
		"units": units(),
	}
	out := []Publication{{Class: topic.Tele, Name: kinds.AirStream, Payload: mustJSON(r)}}
	if m.steps%10 == 0 {
		r["status"] = "ok"
		if m.interval > 0 {
			r["interval_s"] = m.interval.Seconds()
		}
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(r), QoS: 1})
	}
	m.steps++
	return out
}

func units() map[string]any {
	u := map[string]any{}
	for k, v := range kinds.PollutantUnits {
		u[k] = v
	}
	return u
}
