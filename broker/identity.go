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
// anonymous clients may not name Signet's roots at all.
func (id Identity) MaySubscribe(filter string) bool {
	if id.Role != RoleAnonymous {
		return true
	}
	return !topic.IsReserved(filter) && !strings.HasPrefix(filter, "+/") && filter != "#" && filter != "+"
}
