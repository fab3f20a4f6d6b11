package devices

import (
	"encoding/json"
	"fmt"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// Device is a registered physical device: where it is, what it is, and the
// public keys it signs with.
type Device struct {
	ID       string            `json:"id"`   // [a-z0-9-]{1,64} (SPEC §1)
	Zone     string            `json:"zone"` // [a-z0-9-]{1,64}; the only zone it may publish in
	Kind     string            `json:"kind"` // a kinds profile, e.g. "traffic-signal"
	Keys     []Key             `json:"keys"`
	Params   json.RawMessage   `json:"params,omitempty"` // model parameters, checked by the kind's profile
	Metadata map[string]string `json:"metadata,omitempty"`
	// Credentials are how the device may authenticate its MQTT connection.
	Credentials Credentials `json:"credentials,omitzero"`

	// Revision is the stored version of the record, set by the Store when it
	// reads one; writes are compare-and-set on it (0 = create). Not exported.
	Revision uint64 `json:"-"`
}

// Credentials are the connection credentials of a device or person beyond
// its signing keys. They are the place for what the broker's authentication
// needs (issue 5): certificate pins now, password hashes later.
type Credentials struct {
	// CertSHA256 pins client certificates: lower-case hex SHA-256 of the DER.
	CertSHA256 []string `json:"cert_sha256,omitempty"`
	// PasswordHash is an argon2id hash in PHC string form
	// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"); never a password.
	PasswordHash string `json:"password_hash,omitempty"`
}

// Operator is a person or system that signs commands. Its authority to do so
// comes from an endorsement CWT signed by a control authority (SPEC §5); the
// registry keeps its keys and the scope the edge will allow.
type Operator struct {
	ID       string `json:"id"`
	Keys     []Key  `json:"keys"`
	Scope    Scope  `json:"scope"`
	Revision uint64 `json:"-"` // as Device.Revision
}

// Scope is what an operator may command. Each list holds names, or "*" for all.
type Scope struct {
	Zones    []string `json:"zones"`
	Kinds    []string `json:"kinds"`
	Commands []string `json:"commands"`
}

// Any is the scope entry that allows every value.
const Any = "*"

// Allows reports whether the scope covers a command name on a device kind in
// a zone.
func (s Scope) Allows(zone, kind, command string) bool {
	return contains(s.Zones, zone) && contains(s.Kinds, kind) && contains(s.Commands, command)
}

func contains(list []string, v string) bool {
	for _, e := range list {
		if e == Any || e == v {
			return true
		}
	}
	return false
}

// Authority is a city control authority: its keys sign operator endorsements
// (SPEC §5). Devices are flashed with these public keys.
type Authority struct {
	ID       string `json:"id"`
	Keys     []Key  `json:"keys"`
	Revision uint64 `json:"-"` // as Device.Revision
}

// Validate checks every field of the device, including its model parameters
// against its kind's profile, and returns the first problem, naming it.
func (d *Device) Validate() error {
	if err := topic.ValidID("device id", d.ID); err != nil {
		return err
	}
	if err := topic.ValidID("device "+d.ID+": zone", d.Zone); err != nil {
		return err
	}
	p, ok := kinds.Lookup(d.Kind)
	if !ok {
		return fmt.Errorf("device %s: unknown kind %q (known: %v)", d.ID, d.Kind, kinds.Kinds())
	}
	if err := p.ValidateParams(d.Params); err != nil {
		if len(d.Params) == 0 {
			return fmt.Errorf("device %s: kind %s needs model parameters; pass --params FILE", d.ID, d.Kind)
		}
		return fmt.Errorf("device %s: params: %w", d.ID, err)
	}
	for _, c := range d.Credentials.CertSHA256 {
		if len(c) != 64 || !isLowerHex(c) {
			return fmt.Errorf("device %s: credentials.cert_sha256 %q: want 64 lower-case hex digits", d.ID, c)
		}
	}
	return validateKeys("device "+d.ID, d.Keys)
}

// Validate checks the operator's id, keys and scope.
func (o *Operator) Validate() error {
	if err := topic.ValidID("operator id", o.ID); err != nil {
		return err
	}
	for _, part := range []struct {
		name string
		list []string
	}{{"zones", o.Scope.Zones}, {"kinds", o.Scope.Kinds}, {"commands", o.Scope.Commands}} {
		if len(part.list) == 0 {
			return fmt.Errorf("operator %s: scope.%s is empty; name at least one, or %q for all", o.ID, part.name, Any)
		}
		for _, v := range part.list {
			if v == Any {
				continue
			}
			if err := topic.ValidID("operator "+o.ID+": scope."+part.name+" entry", v); err != nil {
				return err
			}
			if part.name == "kinds" {
				if _, ok := kinds.Lookup(v); !ok {
					return fmt.Errorf("operator %s: scope.kinds: unknown kind %q (known: %v)", o.ID, v, kinds.Kinds())
				}
			}
		}
	}
	return validateKeys("operator "+o.ID, o.Keys)
}

// Validate checks the authority's id and keys.
func (a *Authority) Validate() error {
	if err := topic.ValidID("authority id", a.ID); err != nil {
		return err
	}
	return validateKeys("authority "+a.ID, a.Keys)
}

func validateKeys(owner string, keys []Key) error {
	if len(keys) == 0 {
		return fmt.Errorf("%s: has no key", owner)
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if err := k.Validate(); err != nil {
			return fmt.Errorf("%s: %w", owner, err)
		}
		if seen[string(k.KID)] {
			return fmt.Errorf("%s: kid %s appears twice", owner, signing.FormatKeyID(k.KID))
		}
		seen[string(k.KID)] = true
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
