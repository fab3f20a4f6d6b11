// Package attack builds hostile messages against a city edge, each with the
// SPEC §4 reason a correct broker must refuse it with.
package attack

import (
	"bytes"
	"encoding/json"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// Attack is one hostile message.
type Attack struct {
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
// and not yet delivered (in flight), and a second device of the same zone.
// A tampered copy of an accepted message would be refused as a replay
// (SPEC §4 checks the counter before the signature), so tampering uses the
// message in flight.
func Plan(victim, other *runtime.Device, seen, inFlight Captured) ([]Attack, error) {
	tampered := bytes.Clone(inFlight.Message)
	tampered[len(tampered)-70] ^= 0x01 // a byte of the payload
	forger, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		return nil, err
	}
	stateTopic := topic.City{Zone: victim.Zone, Device: victim.ID, Class: topic.State}.String()
	forged, err := signing.Sign(forger, signing.Header{KID: signing.KeyID(forger.Public()), Counter: 1}, []byte(`{"mode":"flash"}`), stateTopic)
	if err != nil {
		return nil, err
	}
	stolenKID, err := signing.Sign(forger, signing.Header{KID: victim.KID, Counter: 1 << 40}, []byte(`{"mode":"flash"}`), stateTopic)
	if err != nil {
		return nil, err
	}
	otherTopic := topic.City{Zone: other.Zone, Device: other.ID, Class: topic.State}.String()
	// A forged control request: a compromised device signs a command to
	// another device with its own (real, enrolled) key and no endorsement.
	cmdTopic := topic.City{Zone: other.Zone, Device: other.ID, Class: topic.Cmd, Name: "dim"}.String()
	forgedCmd, err := victim.Sign(cmdTopic, []byte(`{"level":0}`))
	if err != nil {
		return nil, err
	}
	wrongZone := topic.City{Zone: victim.Zone + "-x", Device: victim.ID, Class: topic.State}.String()
	return []Attack{
		{Name: "replay a captured message", Topic: seen.Topic, Payload: seen.Message, Expect: signing.ReasonReplay},
		{Name: "tamper with one byte in flight", Topic: inFlight.Topic, Payload: tampered, Expect: signing.ReasonBadSignature},
		{Name: "forged key (not enrolled)", Topic: stateTopic, Payload: forged, Expect: signing.ReasonUnknownKID},
		{Name: "forged signature under the victim's kid", Topic: stateTopic, Payload: stolenKID, Expect: signing.ReasonBadSignature},
		{Name: "re-topic to another device", Topic: otherTopic, Payload: seen.Message, Expect: signing.ReasonImpersonation},
		{Name: "wrong zone", Topic: wrongZone, Payload: seen.Message, Expect: signing.ReasonZoneMismatch},
		{Name: "garbage envelope", Topic: stateTopic, Payload: []byte(`{"mode":"flash"}`), Expect: signing.ReasonMalformed},
		{Name: "forged command (a device key, no endorsement)", Topic: cmdTopic, Payload: forgedCmd, Expect: signing.ReasonUnauthorizedCommand},
	}, nil
}

// Intercept has the device sign a state message that an attacker on the
// path captures before the broker sees it.
func Intercept(d *runtime.Device, payload []byte) (Captured, error) {
	t := topic.City{Zone: d.Zone, Device: d.ID, Class: topic.State}.String()
	msg, err := d.Sign(t, payload)
	return Captured{Topic: t, Message: msg}, err
}

// ConflictingGreens is what a faulty or compromised traffic controller, with
// its real key, might report: every group green at once. The broker must
// refuse it as invalid_state (SPEC §4 step 10).
func ConflictingGreens(d *runtime.Device, sinceMS int64) (Attack, error) {
	t := topic.City{Zone: d.Zone, Device: d.ID, Class: topic.State}.String()
	g := func() map[string]any { return map[string]any{"state": "green", "since": sinceMS} }
	payload, err := json.Marshal(map[string]any{"groups": map[string]any{"2": g(), "4": g(), "6": g(), "8": g()}})
	if err != nil {
		return Attack{}, err
	}
	msg, err := d.Sign(t, payload)
	if err != nil {
		return Attack{}, err
	}
	return Attack{Name: "conflicting greens from the real controller key", Topic: t, Payload: msg, Expect: signing.ReasonInvalidState}, nil
}
