package broker

import "testing"

// TestSubscribeRules walks MaySubscribe by role and filter: $SYS for
// admins and auditors, shared filters only where the role could read
// something, plain wildcard filters for every authenticated role (MayRead
// filters each delivery).
func TestSubscribeRules(t *testing.T) {
	var (
		viewer  = Identity{Role: RoleViewer, Name: "v", Zones: []string{"z1"}}
		nozone  = Identity{Role: RoleViewer, Name: "n"}
		device  = Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z1"}}
		gateway = Identity{Role: RoleGateway, Name: "gw", Zones: []string{"z1"}}
		auditor = Identity{Role: RoleAuditor, Name: "a"}
		admin   = Identity{Role: RoleAdmin, Name: "root"}
		anon    = Identity{Role: RoleAnonymous, Name: "anonymous:x"}
	)
	cases := []struct {
		id     Identity
		filter string
		want   bool
	}{
		{admin, "$SYS/#", true}, {auditor, "$SYS/broker/uptime", true},
		{viewer, "$SYS/#", false}, {device, "$SYS/#", false}, {gateway, "$SYS", false}, {anon, "$SYS/#", false},
		{viewer, "$share/g/$SYS/#", false}, {admin, "$share/g/$SYS/#", true},
		{viewer, "city/z2/#", true}, // plain: MayRead filters deliveries
		{viewer, "$share/g/city/z1/#", true}, {viewer, "$share/g/city/+/+/state", true}, {viewer, "$share/g/#", true},
		{viewer, "$share/g/city/z2/#", false}, {viewer, "$share/g/$twin/z2/+/reported", false},
		{viewer, "$share/g/$security/events", false}, {viewer, "$share/g/city/z1", false},
		{nozone, "$share/g/city/+/#", false}, {nozone, "$share/g/jobs/#", true},
		{device, "$share/g/city/z1/sl-1/cmd/+", true}, {device, "$share/g/city/+/sl-1/#", true},
		{device, "$share/g/city/z1/sl-2/cmd/+", false}, {device, "$share/g/city/z1/sl-1/state", false}, {device, "$share/g/$twin/z1/#", true}, {device, "$share/g/$twin/z1/sl-1/rejected", true},
		{device, "$share/g/$twin/z1/sl-1/reported", false}, {device, "$share/g/$twin/z1/sl-2/rejected", false}, {device, "$share/g/$twin/z2/sl-1/rejected", false},
		{gateway, "$share/g/city/z1/+/cmd/#", true}, {gateway, "$share/g/city/z1/+/tele/#", false},
		{auditor, "$share/g/$security/events", true}, {auditor, "$share/g/city/z1/#", false},
		{admin, "$share/g/city/z9/#", true},
		{anon, "$share/g/lobby/#", true}, {anon, "$share/g/city/z1/#", false}, {anon, "$share/g/#", false},
	}
	for _, tc := range cases {
		if got := tc.id.MaySubscribe(tc.filter); got != tc.want {
			t.Errorf("%s %s may subscribe %q: %v, want %v", tc.id.Role, tc.id.Name, tc.filter, got, tc.want)
		}
	}
	if viewer.MayRead("$SYS/broker/uptime") || !auditor.MayRead("$SYS/broker/uptime") || !admin.MayRead("$SYS/broker/uptime") {
		t.Error("$SYS read rule")
	}
}

// TestReadRejectedTopic walks the read rule of $twin/{zone}/{device}/rejected:
// the device itself and its zone's viewers, operators and admins; no other
// device, no gateway, no auditor, no other zone; and the device still reads
// none of its twin's document topics.
func TestReadRejectedTopic(t *testing.T) {
	const rejected = "$twin/z1/sl-1/rejected"
	cases := []struct {
		id   Identity
		t    string
		want bool
	}{
		{Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z1"}}, rejected, true},
		{Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z1"}}, "$twin/z1/sl-1/reported", false},
		{Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z1"}}, "$twin/z1/sl-1", false},
		{Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z1"}}, "$twin/z1/sl-1/rejected/x", false},
		{Identity{Role: RoleDevice, Name: "sl-2", Device: "sl-2", Zones: []string{"z1"}}, rejected, false},
		{Identity{Role: RoleDevice, Name: "sl-1", Device: "sl-1", Zones: []string{"z2"}}, rejected, false},
		{Identity{Role: RoleViewer, Name: "v", Zones: []string{"z1"}}, rejected, true},
		{Identity{Role: RoleOperator, Name: "o", Zones: []string{"z1"}}, rejected, true},
		{Identity{Role: RoleViewer, Name: "v2", Zones: []string{"z2"}}, rejected, false},
		{Identity{Role: RoleGateway, Name: "gw", Zones: []string{"z1"}}, rejected, false},
		{Identity{Role: RoleAuditor, Name: "a"}, rejected, false},
		{Identity{Role: RoleAdmin, Name: "root"}, rejected, true},
		{Identity{Role: RoleAnonymous, Name: "anonymous:x"}, rejected, false},
	}
	for _, tc := range cases {
		if got := tc.id.MayRead(tc.t); got != tc.want {
			t.Errorf("%s %s zones %v may read %q: %v, want %v", tc.id.Role, tc.id.Name, tc.id.Zones, tc.t, got, tc.want)
		}
	}
}
