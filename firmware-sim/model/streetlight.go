package model

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
)

// Streetlight is on from dusk to dawn (its own schedule, recomputed each
// day for its latitude), dimmed after midnight, with rare lamp failures
// that it reports as its health until the lamp is replaced; an operator's
// set-level overrides the schedule (mode "manual") until a schedule
// command hands it to an operator's daily on/off schedule.
type Streetlight struct {
	rng      *rand.Rand
	params   kinds.StreetlightParams
	state    map[string]any
	manual   *float64      // level set by set-level
	sched    *lampSchedule // set by schedule; nil: dusk to dawn
	failedAt time.Time     // when the lamp failed; zero: healthy
}

// lampSchedule is a daily on/off time, in minutes after midnight.
type lampSchedule struct {
	on, off int
	level   float64
}

// StreetlightLatitude is where the simulated luminaires stand (degrees
// north), for their dusk-to-dawn schedule.
const StreetlightLatitude = 52.0

// lampRepair is how long a failed lamp stays out before the maintenance
// crew replaces it.
const lampRepair = 2 * time.Hour

// NewStreetlight is a luminaire with params (kinds.StreetlightParams).
func NewStreetlight(params json.RawMessage, rng *rand.Rand) (*Streetlight, error) {
	p, err := kinds.ParseStreetlightParams(params)
	if err != nil {
		return nil, err
	}
	return &Streetlight{rng: rng, params: p}, nil
}

// Command acts on set-level, schedule and cancel (devices/catalog).
func (m *Streetlight) Command(name string, a catalog.Args) error {
	switch name {
	case "set-level":
		level := a.Number("level")
		m.manual = &level
	case "schedule":
		m.manual = nil
		m.sched = &lampSchedule{on: minutes(a.String("on")), off: minutes(a.String("off")), level: 100}
		if _, ok := a["level"]; ok {
			m.sched.level = a.Number("level")
		}
	case catalog.Cancel:
		switch a.String("command") {
		case "set-level":
			m.manual = nil
		case "schedule":
			m.sched = nil
		}
	default:
		return refuse("a streetlight takes no command %q", name)
	}
	return nil
}

// minutes is "HH:MM" (checked by the catalogue) in minutes after midnight.
func minutes(hhmm string) int {
	var h, mm int
	fmt.Sscanf(hhmm, "%d:%d", &h, &mm)
	return h*60 + mm
}

func hhmm(min int) string { return fmt.Sprintf("%02d:%02d", min/60%24, min%60) }

// DuskToDawn is the day's sunset and sunrise at latitude, in minutes after
// midnight of local solar time: the declination approximated as
// -23.44° cos(360/365 (day + 10)), the sunset hour angle from
// cos ω = -tan φ tan δ (the sun's centre on the horizon).
func DuskToDawn(day time.Time, latitude float64) (on, off int) {
	decl := -23.44 * math.Cos(2*math.Pi/365*float64(day.YearDay()+10)) * math.Pi / 180
	cosW := -math.Tan(latitude*math.Pi/180) * math.Tan(decl)
	w := math.Acos(max(-1, min(1, cosW))) * 180 / math.Pi // degrees; 15 an hour
	half := int(w / 15 * 60)
	return min(12*60+half, 24*60-1), max(12*60-half, 0)
}

// Step reports state changes (on, level, mode, schedule, health) and power.
func (m *Streetlight) Step(now time.Time) []Publication {
	t := now.Hour()*60 + now.Minute()
	on, off := DuskToDawn(now, StreetlightLatitude)
	sched := map[string]any{"on": hhmm(on), "off": hhmm(off), "level": 100.0, "source": kinds.ScheduleDuskToDawn}
	level, mode := 0.0, "schedule"
	if t >= on || t < off {
		level = 100
		if t < 5*60 {
			level = 40 // dimmed in the small hours
		}
	}
	if m.sched != nil {
		sched = map[string]any{"on": hhmm(m.sched.on), "off": hhmm(m.sched.off), "level": m.sched.level, "source": kinds.ScheduleOperator}
		lit := t >= m.sched.on && t < m.sched.off
		if m.sched.on > m.sched.off { // across midnight
			lit = t >= m.sched.on || t < m.sched.off
		}
		level = 0
		if lit {
			level = m.sched.level
		}
	}
	if m.manual != nil {
		level, mode = *m.manual, "manual"
	}
	health := kinds.LampOK
	if !m.failedAt.IsZero() && now.Sub(m.failedAt) >= lampRepair {
		m.failedAt = time.Time{} // replaced
	}
	if m.failedAt.IsZero() && level > 0 && m.rng.IntN(5000) == 0 {
		m.failedAt = now
	}
	if !m.failedAt.IsZero() {
		health = kinds.LampFailed
	}
	next := map[string]any{"on": level > 0, "level": level, "mode": mode, "schedule": sched, "health": health}
	var out []Publication
	if m.state == nil || !sameState(m.state, next) {
		m.state = next
		out = append(out, Publication{Class: topic.State, Payload: mustJSON(next), QoS: 1})
	}
	out = append(out, Publication{Class: topic.Tele, Name: kinds.PowerStream, Payload: mustJSON(map[string]any{"power_w": m.power(level, health != kinds.LampOK)})})
	return out
}

// power is the draw at level: the driver's standby and the lamp's share
// of its rating, with a little noise; a failed lamp draws the standby.
func (m *Streetlight) power(level float64, failed bool) float64 {
	p := m.params
	noise := (m.rng.Float64() - 0.5) * p.RatedW * p.TolerancePct / 100 // within half the tolerance
	if failed || level == 0 {
		return round1(p.StandbyW * m.rng.Float64())
	}
	return round1(max(0, p.StandbyW+p.RatedW*level/100+noise))
}

func sameState(a, b map[string]any) bool { return string(mustJSON(a)) == string(mustJSON(b)) }
