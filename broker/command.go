package broker

import (
	"context"
	"encoding/json"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/cmdcheck"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// MaxCommandLifetime is the longest a command may live (exp - iat).
const MaxCommandLifetime = cmdcheck.MaxLifetime

// ParamsLookup returns a device's model parameters (its kind's commands need
// them to judge safety: a traffic signal's plans and conflicts).
type ParamsLookup func(ctx context.Context, device string) (json.RawMessage, error)

// CommandPolicy is the command step of the broker's verification: the shared check
// (devices/cmdcheck: endorsement, scope, freshness, the catalogue's schema
// and safety rule against reported state) plus what only the broker knows,
// the registry: authority keys and their revocation, and the operator key's
// registered owner and scope. The verify hook calls it after the operator's
// signature has been verified, so a forged command never costs more than a
// rejected signature.
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
// aimed at the twin doc. It returns the checked command, whose desired patch
// (never the raw payload) is what reaches the twin. Errors are
// *signing.Rejection with reason unauthorized_command, expired or
// unsafe_command.
func (p *CommandPolicy) Check(ctx context.Context, env *signing.Envelope, k *devices.KeyRecord, t topic.City, doc *twin.Document) (*cmdcheck.Command, error) {
	now := p.now()
	var params json.RawMessage
	if p.params != nil {
		var err error
		if params, err = p.params(ctx, doc.Device); err != nil {
			return nil, err // not a rejection reason of its own: logged and refused
		}
	}
	c, err := cmdcheck.Check(cmdcheck.Input{
		Topic: t.String(), Envelope: env, Now: now, Verified: k.Public,
		Authority: func(kid []byte) (signing.PublicKey, error) { return authorityKey(p.keys, kid, now) },
		Device:    cmdcheck.Device{Zone: doc.Zone, ID: doc.Device, Kind: doc.Kind, Params: params, Reported: doc.Reported},
	})
	if err != nil {
		return nil, err
	}
	if c.Operator != k.Owner {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement.sub", "endorsement is for operator %q, key %s is operator %q's", c.Operator, signing.FormatKeyID(k.KID), k.Owner)
	}
	if k.Scope == nil || !k.Scope.Allows(t.Zone, doc.Kind, t.Name) {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "scope", "operator %q is not registered for %q on %s in zone %s", k.Owner, t.Name, doc.Kind, t.Zone)
	}
	return c, nil
}

// commandChange is what a checked command does to its device's twin.
func commandChange(c *cmdcheck.Command) *twin.CommandChange {
	return &twin.CommandChange{Name: c.Name, Desired: c.Request.Desired, Expires: c.Expires, Cancels: c.Request.Cancels,
		IfVersion: c.Request.IfVersion} // checked in the commit, atomically with the change
}
