package attack

import (
	"fmt"
	"strings"
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// Kind names one attack, as `signet attack --kind` spells it.
type Kind string

// The kinds of attack, each refused at a different step of SPEC §4.
const (
	KindReplay            Kind = "replay"             // a captured, accepted message sent again: replay
	KindTamper            Kind = "tamper"             // one payload byte flipped in flight: bad_signature
	KindForgedKey         Kind = "forged-key"         // signed by a key never enrolled: unknown_kid
	KindForgedSignature   Kind = "forged-signature"   // the victim's kid, a forger's signature: bad_signature
	KindWrongTopic        Kind = "wrong-topic"        // a real message moved to another device's topic: impersonation
	KindWrongZone         Kind = "wrong-zone"         // a real message moved to another zone: zone_mismatch
	KindGarbage           Kind = "garbage"            // no COSE_Sign1 envelope at all: malformed
	KindForgedCommand     Kind = "forged-command"     // a command signed by a device key: unauthorized_command
	KindConflictingGreens Kind = "conflicting-greens" // a real controller key reports conflicting greens: invalid_state
)

// Kinds lists every kind, in the order Plan (then the demo) launches them.
func Kinds() []Kind {
	return []Kind{KindReplay, KindTamper, KindForgedKey, KindForgedSignature, KindWrongTopic,
		KindWrongZone, KindGarbage, KindForgedCommand, KindConflictingGreens}
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	all := Kinds() // MoreKinds are the scenario suite's (signet attack --scenario)
	for _, k := range all {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, 0, len(all))
	for _, k := range all {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("%q is not one of %s", s, strings.Join(names, ", "))
}

// NeedsOther reports whether the kind needs a second device (Scene.Other).
func (k Kind) NeedsOther() bool { return k == KindWrongTopic || k == KindForgedCommand }

// NeedsSeen reports whether the kind reuses a message of the victim's that
// the broker accepted (Scene.Seen).
func (k Kind) NeedsSeen() bool {
	return k == KindReplay || k == KindWrongTopic || k == KindWrongZone || k == KindRebootReplay
}

// NeedsTrafficSignal reports whether the victim must be a traffic signal.
func (k Kind) NeedsTrafficSignal() bool { return k == KindConflictingGreens }

// Scene is what an attacker holds: a compromised device (its real key and
// counter store), optionally another device of its zone, and a message of
// the victim's that the broker accepted.
type Scene struct {
	Victim *runtime.Device
	Other  *runtime.Device // nil: kinds that NeedsOther cannot be built
	Seen   Captured        // zero: kinds that NeedsSeen cannot be built
	// Retired is a key of the victim's the registry refuses; nil: kinds
	// that NeedsRetiredKey cannot be built.
	Retired *RetiredKey
}

// Build makes one fresh attack of kind k. Kinds that sign with the victim's
// key (tamper, forged-command, conflicting-greens) spend one of its counters
// each time.
func (s Scene) Build(k Kind) (Attack, error) {
	switch {
	case k.NeedsOther() && s.Other == nil:
		return Attack{}, fmt.Errorf("attack %s needs a second device", k)
	case k.NeedsSeen() && s.Seen.Message == nil:
		return Attack{}, fmt.Errorf("attack %s needs a captured message of %s", k, s.Victim.ID)
	}
	v := s.Victim
	switch k {
	case KindReplay:
		return Attack{Kind: k, Name: "replay a captured message", Topic: s.Seen.Topic, Payload: s.Seen.Message, Expect: signing.ReasonReplay}, nil
	case KindTamper:
		inFlight, err := Intercept(v, []byte(`{"mode":"normal","plan":"fixed-time"}`))
		if err != nil {
			return Attack{}, err
		}
		return tamper(inFlight)
	case KindForgedKey:
		return forgedKey(v)
	case KindForgedSignature:
		return stolenKID(v)
	case KindWrongTopic:
		return Attack{Kind: k, Name: "re-topic to another device", Topic: stateTopic(s.Other.Zone, s.Other.ID), Payload: s.Seen.Message, Expect: signing.ReasonImpersonation}, nil
	case KindWrongZone:
		return Attack{Kind: k, Name: "wrong zone", Topic: stateTopic(otherZone(v.Zone), v.ID), Payload: s.Seen.Message, Expect: signing.ReasonZoneMismatch}, nil
	case KindGarbage:
		return Attack{Kind: k, Name: "garbage envelope", Topic: stateTopic(v.Zone, v.ID), Payload: []byte(`{"mode":"flash"}`), Expect: signing.ReasonMalformed}, nil
	case KindForgedCommand:
		return forgedCommand(v, s.Other)
	case KindConflictingGreens:
		return ConflictingGreens(v, time.Now().UnixMilli())
	}
	return s.buildMore(k)
}

// otherZone is a well-formed zone (SPEC §1) that is not zone.
func otherZone(zone string) string {
	if len(zone) > topic.MaxIDLen-2 {
		zone = zone[:topic.MaxIDLen-2]
	}
	return zone + "-x"
}

// Capture has the device sign one real reading of its model (telemetry,
// which every model produces and no domain rule refuses) for the attacker
// to publish: once accepted, it is the message a replay reuses.
func Capture(d *runtime.Device, now time.Time) (Captured, error) {
	for _, p := range d.Model.Step(now) {
		if p.Class != topic.Tele {
			continue
		}
		t := topic.City{Zone: d.Zone, Device: d.ID, Class: p.Class, Name: p.Name}.String()
		msg, err := d.Sign(t, p.Payload)
		return Captured{Topic: t, Message: msg}, err
	}
	return Captured{}, fmt.Errorf("device %s: its model published no telemetry to capture", d.ID)
}
