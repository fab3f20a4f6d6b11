package kinds

import (
	"slices"

	"github.com/signet-city/signet/devices/strictjson"
)

// SPaT (signal phase and timing) is what a controller broadcasts on
// tele/spat: per signal group, the SAE J2735 MovementState of its
// MovementEvent (event state and TimeChangeDetails), with absolute unix
// milliseconds instead of J2735's tenths of a second in the hour:
//
//	{"boot": <the boot of the state it belongs to>, "at": <unix ms>,
//	 "groups": {"2": {"event": "protected-movement-allowed",
//	                  "min_end": <ms>, "max_end": <ms>, "likely": <ms>}}}
//
// The J2735 MovementPhaseState names, lower-cased.
const (
	EventUnavailable     = "unavailable"
	EventDark            = "dark"
	EventStopThenProceed = "stop-then-proceed"
	EventStopAndRemain   = "stop-and-remain"
	EventPreMovement     = "pre-movement"
	EventPermissiveGo    = "permissive-movement-allowed"
	EventProtectedGo     = "protected-movement-allowed"
	EventPermissiveClear = "permissive-clearance"
	EventProtectedClear  = "protected-clearance"
	EventCaution         = "caution-conflicting-traffic"
)

// EventsFor are the J2735 event states that agree with a head's colour.
var EventsFor = map[string][]string{
	Green:  {EventProtectedGo, EventPermissiveGo},
	Yellow: {EventProtectedClear, EventPermissiveClear},
	Red:    {EventStopAndRemain, EventPreMovement},
	Flash:  {EventStopThenProceed, EventCaution},
	Dark:   {EventDark, EventUnavailable},
}

var spatFields = fields{
	"boot": {typ: "number", min: 1, max: 1 << 53},
	"at":   {typ: "number", min: 0, max: 1 << 53},
	"groups": {typ: "object", dynamic: true, sub: fields{
		"event":   {typ: "string", enum: []string{EventUnavailable, EventDark, EventStopThenProceed, EventStopAndRemain, EventPreMovement, EventPermissiveGo, EventProtectedGo, EventPermissiveClear, EventProtectedClear, EventCaution}},
		"min_end": {typ: "number", min: 0, max: 1 << 53},
		"max_end": {typ: "number", min: 0, max: 1 << 53},
		"likely":  {typ: "number", min: 0, max: 1 << 53},
	}},
}

// CheckSPaT checks a traffic signal's SPaT message against the state its
// twin reports: the same boot, only reported groups (any, before the first
// state), an event state that
// agrees with each group's colour, and minEndTime <= likelyTime <=
// maxEndTime, none before the state began. A SPaT that contradicts the
// reported state is refused (invalid_state): a vehicle reading it would be
// told to go against a red.
func CheckSPaT(reported map[string]any, payload []byte) error {
	m, err := strictjson.DecodeObject(payload, 0)
	if err != nil {
		return invalid("payload", "must be one strict JSON object: %v", err)
	}
	if err := spatFields.check("", m); err != nil {
		return err
	}
	if b, ok := m["boot"]; ok && reported["boot"] != nil && b != reported["boot"] {
		return invalid("boot", "%v is not the reported boot %v", b, reported["boot"])
	}
	heads := groupsOf(reported)
	groupIDs := make([]string, 0, len(heads))
	for id := range heads {
		groupIDs = append(groupIDs, id)
	}
	slices.Sort(groupIDs)
	gs, _ := m["groups"].(map[string]any)
	ids := make([]string, 0, len(gs))
	for id := range gs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		path := "groups." + id
		if !slices.Contains(groupIDs, id) && len(groupIDs) > 0 {
			return invalid(path, "not a signal group the controller reports (%v)", groupIDs)
		}
		head, ok := heads[id]
		if !ok || head.state == "" {
			continue // nothing reported yet to contradict
		}
		g, _ := gs[id].(map[string]any)
		if ev, _ := g["event"].(string); !slices.Contains(EventsFor[head.state], ev) {
			return invalid(path+".event", "%q contradicts the reported %s (J2735: %v)", ev, head.state, EventsFor[head.state])
		}
		minEnd, hasMin := g["min_end"].(float64)
		maxEnd, hasMax := g["max_end"].(float64)
		likely, hasLikely := g["likely"].(float64)
		switch {
		case hasMin && minEnd < head.since:
			return invalid(path+".min_end", "%v is before the state began at %v", minEnd, head.since)
		case hasMin && hasMax && maxEnd < minEnd:
			return invalid(path+".max_end", "%v is before min_end %v", maxEnd, minEnd)
		case hasLikely && hasMin && likely < minEnd:
			return invalid(path+".likely", "%v is before min_end %v", likely, minEnd)
		case hasLikely && hasMax && likely > maxEnd:
			return invalid(path+".likely", "%v is after max_end %v", likely, maxEnd)
		}
	}
	return nil
}
