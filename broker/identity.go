package broker

import (
	"slices"
	"strings"

	"github.com/signet-city/signet/devices/topic"
)

// Role is what an authenticated client may do (issue 5: roles by zone).
type Role string

// The roles.
const (
	RoleDevice    Role = "device"    // its own city/{zone}/{device}/... topics
	RoleGateway   Role = "gateway"   // publishes for the devices of its zones (a roadside concentrator)
	RoleOperator  Role = "operator"  // commands and acks in its zones, twins of its zones
	RoleViewer    Role = "viewer"    // twins and telemetry of its zones
	RoleAuditor   Role = "auditor"   // $security/#
	RoleAdmin     Role = "admin"     // everything
	RoleAnonymous Role = "anonymous" // only ordinary MQTT, never Signet's roots
)

// Identity is who a client authenticated as.
type Identity struct {
	Role   Role
	Name   string   // user, operator or device id
	Device string   // RoleDevice: the device id
	Zones  []string // zones the role applies to; "*" is every zone
}

// key identifies an identity for session binding.
func (id Identity) key() string { return string(id.Role) + ":" + id.Name }

// HasZone reports whether the identity covers zone.
func (id Identity) HasZone(zone string) bool {
	return slices.Contains(id.Zones, zone) || slices.Contains(id.Zones, "*")
}

// MayWrite is the write ACL. Messages under city/ from devices, gateways and
// operators go on to the verify hook, which refuses each bad one with a
// SPEC §4 reason and a security event.
func (id Identity) MayWrite(t string) bool {
	if !topic.IsReserved(t) {
		return true // ordinary MQTT: any authenticated client
	}
	switch id.Role {
	case RoleAdmin:
		return !strings.HasPrefix(t, topic.TwinRoot+"/") && !strings.HasPrefix(t, topic.SecurityRoot+"/")
	case RoleDevice, RoleGateway, RoleOperator:
		// The verify hook checks every city/ message in full and reports a
		// reason for each refusal; the ACL only keeps these roles off
		// $twin/ and $security/.
		return strings.HasPrefix(t, topic.CityRoot+"/")
	}
	return false
}

// MayRead is the read ACL, checked by mochi for every message delivered, so
// a wildcard subscription never delivers another zone's data.
func (id Identity) MayRead(t string) bool {
	if isSys(t) {
		return id.Role == RoleAdmin || id.Role == RoleAuditor
	}
	if !topic.IsReserved(t) {
		return true
	}
	if id.Role == RoleAdmin {
		return true
	}
	if t == topic.SecurityEvents || strings.HasPrefix(t, topic.SecurityRoot+"/") {
		return id.Role == RoleAuditor
	}
	parts := strings.Split(t, "/")
	if len(parts) < 3 {
		return false
	}
	zone := parts[1]
	switch id.Role {
	case RoleDevice:
		if parts[0] == topic.TwinRoot {
			// Its own refusals, for devices without MQTT 5 reason codes;
			// never its twin, which is the city's view of it.
			return t == topic.Twin(zone, id.Device, topic.TwinRejected) && id.HasZone(zone)
		}
		c, err := topic.ParseCity(t)
		return err == nil && c.Device == id.Device && c.Class == topic.Cmd
	case RoleViewer, RoleOperator:
		return id.HasZone(zone)
	case RoleGateway:
		return id.HasZone(zone) && parts[0] == topic.CityRoot && len(parts) > 3 && parts[3] == string(topic.Cmd)
	}
	return false
}

// MaySubscribe is the subscribe-time check of a filter. Wildcard filters are
// allowed to authenticated clients because MayRead filters every delivery;
// anonymous clients may not name Signet's roots at all; $SYS (the broker's
// own state) is for admins and auditors. A shared subscription
// ($share/{group}/{filter}, MQTT 5 §4.8.2) is refused when the identity can
// never read its filter: a member that may read nothing has no business in
// a group others read from.
func (id Identity) MaySubscribe(filter string) bool {
	if inner, shared := sharedFilter(filter); shared {
		return id.MaySubscribe(inner) && id.CouldRead(inner)
	}
	if isSys(filter) {
		return id.Role == RoleAdmin || id.Role == RoleAuditor
	}
	if id.Role != RoleAnonymous {
		return true
	}
	return !topic.IsReserved(filter) && !strings.HasPrefix(filter, "+/") && filter != "#" && filter != "+"
}

// CouldRead reports whether some topic that filter matches passes MayRead.
// A filter whose first level is a wildcard matches ordinary topics (and
// never a topic starting with $, MQTT 5 §4.7.2).
func (id Identity) CouldRead(filter string) bool {
	lv := strings.Split(filter, "/")
	switch {
	case lv[0] == "#" || lv[0] == "+":
		return true
	case isSys(filter), lv[0] == topic.SecurityRoot:
		return id.Role == RoleAdmin || id.Role == RoleAuditor
	case lv[0] != topic.CityRoot && lv[0] != topic.TwinRoot:
		return true
	case id.Role == RoleAdmin:
		return true
	}
	// level is what the role can read at one level of the topic: ok tells
	// a value, some says whether any value is ok (for a wildcard).
	type level struct {
		ok   func(string) bool
		some bool
	}
	zone := level{id.HasZone, len(id.Zones) > 0}
	anyValue := level{func(string) bool { return true }, true}
	cmd := level{func(c string) bool { return c == string(topic.Cmd) }, true}
	var levels []level // levels 1, 2, ... of the topics the role reads
	switch {
	case id.Role == RoleViewer || id.Role == RoleOperator:
		levels = []level{zone, anyValue}
	case id.Role == RoleDevice && lv[0] == topic.CityRoot:
		levels = []level{zone, {func(d string) bool { return d == id.Device }, true}, cmd}
	case id.Role == RoleDevice && lv[0] == topic.TwinRoot:
		levels = []level{zone, {func(d string) bool { return d == id.Device }, true}, {func(p string) bool { return p == topic.TwinRejected }, true}}
	case id.Role == RoleGateway && lv[0] == topic.CityRoot:
		levels = []level{zone, anyValue, cmd}
	default:
		return false
	}
	for i, l := range levels {
		switch {
		case i+1 >= len(lv):
			return false // the filter stops above what the role reads
		case lv[i+1] == "#":
			return l.some
		case lv[i+1] == "+" && !l.some, lv[i+1] != "+" && !l.ok(lv[i+1]):
			return false
		}
	}
	return true
}

// isSys reports whether t is under $SYS, where mochi publishes the
// broker's own state.
func isSys(t string) bool { return t == "$SYS" || strings.HasPrefix(t, "$SYS/") }

// sharedFilter returns the filter of a shared subscription
// $share/{group}/{filter} (MQTT 5 §4.8.2).
func sharedFilter(filter string) (string, bool) {
	rest, ok := strings.CutPrefix(filter, "$share/")
	if !ok {
		return "", false
	}
	_, inner, ok := strings.Cut(rest, "/")
	return inner, ok
}
