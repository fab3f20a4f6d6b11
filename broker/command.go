package broker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// Command freshness (SPEC §5): a command carries iat and exp, exp at most
// MaxCommandLifetime after iat; iat may run ahead of the broker's clock by at
// most commandClockSkew.
const (
	MaxCommandLifetime = 60 * time.Second
	commandClockSkew   = signing.ClockSkew
)

// ParamsLookup returns a device's model parameters (its kind's profile needs
// them to judge a desired state).
type ParamsLookup func(ctx context.Context, device string) (json.RawMessage, error)

// CommandPolicy is SPEC §4 step 9 for commands (SPEC §5): the operator's
// endorsement by a control authority, its scope, the command's freshness and
// the domain safety of the desired state it asks for. The verify hook calls it
// after the operator's signature has been verified, so a forged command never
// costs more than a rejected signature.
type CommandPolicy struct {
	keys   authorityKeys
	params ParamsLookup
	now    func() time.Time
}

// NewCommandPolicy returns the policy. params may be nil for kinds that take
// no parameters (traffic signals need them).
func NewCommandPolicy(keys authorityKeys, params ParamsLookup) *CommandPolicy {
	return &CommandPolicy{keys: keys, params: params, now: time.Now}
}

// Check decides one command: env was signed by operator key k for topic t,
// aimed at the twin doc. Errors are *signing.Rejection with reason
// unauthorized_command, expired or unsafe_command.
func (p *CommandPolicy) Check(ctx context.Context, env *signing.Envelope, k *devices.KeyRecord, t topic.City, doc *twin.Document) error {
	now := p.now()
	if len(env.Header.Endorsement) == 0 {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", "a command must carry its operator's endorsement CWT (label 13)")
	}
	e, err := verifyEndorsement(env.Header.Endorsement, p.keys, now)
	if err != nil {
		return err
	}
	if e.Operator != k.Owner || !e.Binds(k.Public) {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement.cnf", "endorsement is for operator %q and another key, not operator %q key %s", e.Operator, k.Owner, signing.FormatKeyID(k.KID))
	}
	if !devices.Scope(e.Scope).Allows(t.Zone, doc.Kind, t.Name) {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement.scope", "the authority does not allow %q on %s in zone %s", t.Name, doc.Kind, t.Zone)
	}
	if k.Scope == nil || !k.Scope.Allows(t.Zone, doc.Kind, t.Name) {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "scope", "operator %q is not registered for %q on %s in zone %s", k.Owner, t.Name, doc.Kind, t.Zone)
	}
	if err := fresh(env.Header, now); err != nil {
		return err
	}
	return p.safe(ctx, env.Payload, doc)
}

// fresh checks the command's own iat and exp (SPEC §5).
func fresh(h signing.Header, now time.Time) error {
	if h.IssuedAt == nil || h.Expires == nil {
		return signing.Reject(signing.ReasonExpired, "protected.cwt", "a command must carry iat and exp")
	}
	iat, exp := time.Unix(*h.IssuedAt, 0), time.Unix(*h.Expires, 0)
	switch {
	case exp.Before(iat) || exp.Sub(iat) > MaxCommandLifetime:
		return signing.Reject(signing.ReasonExpired, "protected.cwt.exp", "exp must be within %s after iat", MaxCommandLifetime)
	case !now.Before(exp):
		return signing.Reject(signing.ReasonExpired, "protected.cwt.exp", "command expired %s ago", now.Sub(exp).Round(time.Second))
	case iat.After(now.Add(commandClockSkew)):
		return signing.Reject(signing.ReasonExpired, "protected.cwt.iat", "issued %s in the future", iat.Sub(now).Round(time.Second))
	}
	return nil
}

// safe applies the command's merge patch to the desired state and asks the
// device kind's profile whether the result is a state the device may be in
// (a traffic signal never gets conflicting greens, a streetlight never 500 %).
func (p *CommandPolicy) safe(ctx context.Context, payload []byte, doc *twin.Document) error {
	var patch any
	if err := json.Unmarshal(payload, &patch); err != nil {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "not a JSON merge patch: %v", err)
	}
	if _, ok := patch.(map[string]any); !ok {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "a command's payload must be a JSON object (RFC 7396 merge patch of desired)")
	}
	// MergePatch copies what it changes, so the shared twin is never touched.
	next, _ := twin.MergePatch(doc.Desired, patch).(map[string]any)
	if next == nil {
		next = map[string]any{}
	}
	profile, ok := kinds.Lookup(doc.Kind)
	if !ok {
		return signing.Reject(signing.ReasonUnsafeCommand, "kind", "unknown kind %q", doc.Kind)
	}
	var params json.RawMessage
	if p.params != nil {
		var err error
		if params, err = p.params(ctx, doc.Device); err != nil {
			return err // not a rejection reason of its own: logged and refused
		}
	}
	if err := kinds.ValidateCommanded(profile, params, doc.Desired, next); err != nil {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "the desired state is unsafe: %v", err)
	}
	return nil
}
