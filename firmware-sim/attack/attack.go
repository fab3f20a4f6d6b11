// Package attack builds hostile messages against a city edge, each with the
// SPEC §4 reason a correct broker must refuse it with, and sends them as a
// compromised device would (conn.go).
package attack

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// Attack is one hostile message.
type Attack struct {
	Kind    Kind           // which attack (kind.go)
	Name    string         // what it tries
	Topic   string         // where it is published
	Payload []byte         // the envelope
	Expect  signing.Reason // how the broker must refuse it
}

// Captured is a message seen on the wire.
type Captured struct {
	Topic   string
	Message []byte
}

// Plan returns the standard attacks against victim, using a message of the
// victim's already accepted by the broker (seen), one intercepted on its way
// and not yet delivered (in flight), and a second device of the same zone:
// every kind of Kinds but conflicting greens (see ConflictingGreens), in
// that order.
//
// A tampered copy of an accepted message would be refused as a replay
// (SPEC §4 checks the counter before the signature), so tampering uses the
// message in flight.
func Plan(victim, other *runtime.Device, seen, inFlight Captured) ([]Attack, error) {
	s := Scene{Victim: victim, Other: other, Seen: seen}
	var out []Attack
	for _, k := range Kinds() {
		var a Attack
		var err error
		switch k {
		case KindConflictingGreens:
			continue
		case KindTamper:
			a, err = tamper(inFlight)
		default:
			a, err = s.Build(k)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Intercept has the device sign a state message that an attacker on the
// path captures before the broker sees it.
func Intercept(d *runtime.Device, payload []byte) (Captured, error) {
	t := stateTopic(d.Zone, d.ID)
	msg, err := d.Sign(t, payload)
	return Captured{Topic: t, Message: msg}, err
}

// ConflictingGreens is what a compromised traffic controller, with its real
// key, might report: every group green at once while claiming to be in
// flash, a state no controller can be in. The broker must refuse it as
// invalid_state (SPEC §4 step 10). (The same greens in normal mode are what
// a failed load switch shows: accepted and recorded as a fault, see
// docs/traffic-signals.md.)
func ConflictingGreens(d *runtime.Device, sinceMS int64) (Attack, error) {
	t := stateTopic(d.Zone, d.ID)
	g := func() map[string]any { return map[string]any{"state": "green", "since": sinceMS} }
	payload, err := json.Marshal(map[string]any{"mode": "flash", "groups": map[string]any{"2": g(), "4": g(), "6": g(), "8": g()}})
	if err != nil {
		return Attack{}, err
	}
	msg, err := d.Sign(t, payload)
	if err != nil {
		return Attack{}, err
	}
	return Attack{Kind: KindConflictingGreens, Name: "conflicting greens from the real controller key", Topic: t, Payload: msg, Expect: signing.ReasonInvalidState}, nil
}

func stateTopic(zone, device string) string {
	return topic.City{Zone: zone, Device: device, Class: topic.State}.String()
}

// tamper flips one byte of the payload of a message in flight: the counter
// is fresh, so only the signature can catch it.
func tamper(inFlight Captured) (Attack, error) {
	env, err := signing.Parse(inFlight.Message, 0)
	if err != nil || len(env.Payload) == 0 {
		return Attack{}, fmt.Errorf("tamper: the intercepted message is no signed envelope with a payload: %v", err)
	}
	at := bytes.Index(inFlight.Message, env.Payload)
	tampered := bytes.Clone(inFlight.Message)
	tampered[at+len(env.Payload)/2] ^= 0x01
	return Attack{Kind: KindTamper, Name: "tamper with one byte in flight", Topic: inFlight.Topic, Payload: tampered, Expect: signing.ReasonBadSignature}, nil
}

// forgedKey signs a state message for victim with a key nobody enrolled.
func forgedKey(victim *runtime.Device) (Attack, error) {
	forger, err := signing.GenerateKey(victim.Key.Alg())
	if err != nil {
		return Attack{}, err
	}
	t := stateTopic(victim.Zone, victim.ID)
	msg, err := signing.Sign(forger, signing.Header{KID: signing.KeyID(forger.Public()), Counter: 1}, []byte(`{"mode":"flash"}`), t)
	return Attack{Kind: KindForgedKey, Name: "forged key (not enrolled)", Topic: t, Payload: msg, Expect: signing.ReasonUnknownKID}, err
}

// stolenKID signs with a key of the victim's algorithm under the victim's
// kid, far ahead in the counter space so only the signature can catch it.
func stolenKID(victim *runtime.Device) (Attack, error) {
	forger, err := signing.GenerateKey(victim.Key.Alg())
	if err != nil {
		return Attack{}, err
	}
	t := stateTopic(victim.Zone, victim.ID)
	msg, err := signing.Sign(forger, signing.Header{KID: victim.KID, Counter: 1 << 40}, []byte(`{"mode":"flash"}`), t)
	return Attack{Kind: KindForgedSignature, Name: "forged signature under the victim's kid", Topic: t, Payload: msg, Expect: signing.ReasonBadSignature}, err
}

// forgedCommand is a forged control request: a compromised device signs a
// command to another device with its own (real, enrolled) key and no
// operator endorsement (SPEC §5).
func forgedCommand(victim, other *runtime.Device) (Attack, error) {
	t := topic.City{Zone: other.Zone, Device: other.ID, Class: topic.Cmd, Name: "dim"}.String()
	msg, err := victim.Sign(t, []byte(`{"level":0}`))
	return Attack{Kind: KindForgedCommand, Name: "forged command (a device key, no endorsement)", Topic: t, Payload: msg, Expect: signing.ReasonUnauthorizedCommand}, err
}
