// Package cmdcheck is the one check of an operator command (city/{zone}/
// {device}/cmd/{name}) that the broker makes before delivering it and the
// device makes again before acting on it: the operator's endorsement by a
// trusted control authority and its own validity, the endorsed scope, the
// command's signature and freshness, and the command catalogue's argument
// schema and safety rule against the device's reported state.
//
// What differs between the two ends stays with them: where authority keys
// come from (the broker's registry, the device's flash image), the replay
// window for the operator's key (the broker's durable one, the device's own)
// and the twin version a command may name (Request.IfVersion): only the
// broker holds the twin, so only its commit refuses a stale command
// (twin.Document.CheckVersion), atomically with the change; the device
// checks the argument's type and bounds with the rest and acts regardless.
package cmdcheck

import (
	"encoding/json"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// MaxLifetime is the longest a command may live: its exp at most this long
// after its iat, so that a captured command is worthless a minute later.
const MaxLifetime = 60 * time.Second

// Device is the command's target as the checker knows it.
type Device struct {
	Zone, ID, Kind string
	Params         json.RawMessage // the device's model parameters
	Reported       map[string]any  // its reported state (twin "reported")
}

// Input is one command to check.
type Input struct {
	Topic    string            // the MQTT topic it arrived on
	Envelope *signing.Envelope // strictly parsed (signing.Parse)
	Device   Device
	// Authority returns the control-authority key an endorsement names.
	Authority signing.AuthorityKey
	// Verified, if not nil, is the key the caller has already verified
	// the command's signature with (the broker, with the operator key in
	// its registry); the endorsement must then bind exactly that key. If
	// nil, the signature is verified here with the endorsed key.
	Verified signing.PublicKey
	Now      time.Time
}

// Command is a command that passed the check.
type Command struct {
	Name        string
	Operator    string // sub of the endorsement
	KID         []byte // the command envelope's kid
	OperatorKey signing.PublicKey
	Counter     uint64
	IssuedAt    time.Time
	Expires     time.Time
	Request     *catalog.Request // arguments and the desired patch
}

// Check decides in. Errors are *signing.Rejection: bad_topic and
// zone_mismatch (not a command topic of this device), unauthorized_command
// (endorsement, scope), bad_signature, expired (endorsement or command
// freshness) and unsafe_command (catalogue schema or safety rule). It does
// not consult or change any replay window.
func Check(in Input) (*Command, error) {
	t, err := topic.ParseCity(in.Topic)
	if err != nil {
		return nil, &signing.Rejection{Reason: signing.ReasonBadTopic, Field: "topic", Err: err}
	}
	if t.Class != topic.Cmd || t.Device != in.Device.ID {
		return nil, signing.Reject(signing.ReasonBadTopic, "topic", "%q is not a command topic of device %s", in.Topic, in.Device.ID)
	}
	if t.Zone != in.Device.Zone {
		return nil, signing.Reject(signing.ReasonZoneMismatch, "topic", "device %s is in zone %q, not %q", in.Device.ID, in.Device.Zone, t.Zone)
	}
	env := in.Envelope
	if len(env.Header.Endorsement) == 0 {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", "missing: a command must carry its operator's endorsement CWT (label 13)")
	}
	e, err := signing.VerifyEndorsement(env.Header.Endorsement, in.Authority)
	if err != nil {
		return nil, err
	}
	if err := endorsementValid(e, in.Now); err != nil {
		return nil, err
	}
	key, err := operatorKey(e, env, in)
	if err != nil {
		return nil, err
	}
	if !devices.Scope(e.Scope).Allows(t.Zone, in.Device.Kind, t.Name) {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement.scope", "operator %q is not endorsed for %q on %s in zone %s", e.Operator, t.Name, in.Device.Kind, t.Zone)
	}
	iat, exp, err := Fresh(env.Header, in.Now)
	if err != nil {
		return nil, err
	}
	kind, ok := catalog.Lookup(in.Device.Kind)
	if !ok {
		return nil, signing.Reject(signing.ReasonUnsafeCommand, "kind", "kind %q takes no commands", in.Device.Kind)
	}
	req, err := kind.Prepare(t.Name, env.Payload, catalog.State{Kind: in.Device.Kind, Params: in.Device.Params, Reported: in.Device.Reported})
	if err != nil {
		return nil, err
	}
	// Domain safety: the kind's own rules for what the command
	// asks (kinds.CheckCommand), on top of the catalogue's.
	if profile, ok := kinds.Lookup(in.Device.Kind); ok {
		if err := kinds.CheckCommand(profile, in.Device.Params, in.Device.Reported, req.Desired); err != nil {
			return nil, &signing.Rejection{Reason: signing.ReasonUnsafeCommand, Field: "payload", Err: err}
		}
	}
	return &Command{
		Name: t.Name, Operator: e.Operator, KID: env.Header.KID, OperatorKey: key, Counter: env.Header.Counter,
		IssuedAt: iat, Expires: exp, Request: req,
	}, nil
}

// endorsementValid checks the endorsement's own time claims (RFC 8392
// §3.1.4, §3.1.6) with the one clock skew, signing.ClockSkew.
func endorsementValid(e *signing.Endorsement, now time.Time) error {
	exp := e.Expires.Unix()
	var iat *int64
	if !e.IssuedAt.IsZero() {
		v := e.IssuedAt.Unix()
		iat = &v
	}
	return signing.CheckFreshness(iat, &exp, now, "protected.endorsement")
}

// operatorKey is the endorsed operator key of the command's algorithm, with
// the command's signature checked under it (or, if the caller verified it
// already, the endorsement bound to that key).
func operatorKey(e *signing.Endorsement, env *signing.Envelope, in Input) (signing.PublicKey, error) {
	if in.Verified != nil {
		if !e.Binds(in.Verified) {
			return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement.cnf", "the endorsement of operator %q is for another key than the one that signed the command", e.Operator)
		}
		return in.Verified, nil
	}
	key, err := e.Key(env.Header.Alg)
	if err != nil {
		return nil, err
	}
	if err := env.Verify(key, in.Topic); err != nil {
		return nil, err
	}
	return key, nil
}

// Fresh is a command's freshness: iat and exp both present, exp after iat
// by at most MaxLifetime, exp not passed and iat not ahead of now by more
// than signing.ClockSkew. Errors are *signing.Rejection with ReasonExpired.
func Fresh(h signing.Header, now time.Time) (iat, exp time.Time, err error) {
	if h.IssuedAt == nil || h.Expires == nil {
		return iat, exp, signing.Reject(signing.ReasonExpired, "protected.cwt", "a command must carry iat and exp")
	}
	iat, exp = time.Unix(*h.IssuedAt, 0), time.Unix(*h.Expires, 0)
	if exp.Before(iat) || exp.Sub(iat) > MaxLifetime {
		return iat, exp, signing.Reject(signing.ReasonExpired, "protected.cwt.exp", "exp must be within %s after iat", MaxLifetime)
	}
	return iat, exp, signing.CheckFreshness(h.IssuedAt, h.Expires, now, "protected.cwt")
}
