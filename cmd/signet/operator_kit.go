package main

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// operatorKit is a control authority and one operator it endorsed, made for
// a self-contained run (the demo, `signet attack --spawn`): both keys are
// new, the authority's public key and the operator are enrolled in the
// registry, and the operator's key is endorsed for an hour to flash and
// resume the zone's traffic signals.
type operatorKit struct {
	authority, key signing.PrivateKey
	scope          devices.Scope
	endorsement    []byte // the CWT
}

// newOperatorKit makes the keys, enrols them in reg as authority "city" and
// operator id, and endorses the operator's key.
func newOperatorKit(ctx context.Context, reg *devices.Registry, id, zone string) (*operatorKit, error) {
	authority, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		return nil, err
	}
	key, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		return nil, err
	}
	k := &operatorKit{authority: authority, key: key,
		scope: devices.Scope{Zones: []string{zone}, Kinds: []string{"traffic-signal"}, Commands: []string{"flash", "resume"}}}
	if _, err := reg.AddAuthorityKey(ctx, "city", activeKey(authority)); err != nil {
		return nil, fmt.Errorf("the control authority: %w", err)
	}
	if err := reg.EnrollOperator(ctx, devices.Operator{ID: id, Keys: []devices.Key{activeKey(key)}, Scope: k.scope}); err != nil {
		return nil, fmt.Errorf("the operator: %w", err)
	}
	if k.endorsement, err = endorse(authority, key, id, k.scope); err != nil {
		return nil, err
	}
	return k, nil
}

// activeKey is the registry's record of k's public half, usable now.
func activeKey(k signing.PrivateKey) devices.Key {
	p := k.Public()
	return devices.Key{KID: signing.KeyID(p), Alg: p.Alg(), Public: p.Bytes(), Status: devices.StatusActive}
}

// endorse is authority's CWT for operator's key with scope, valid for an hour.
func endorse(authority, key signing.PrivateKey, operator string, scope devices.Scope) ([]byte, error) {
	now := time.Now()
	return signing.SignEndorsement(authority, signing.KeyID(authority.Public()), 1, key.Public(), signing.EndorsementClaims{
		Operator: operator, Scope: signing.CommandScope(scope), IssuedAt: now, Expires: now.Add(time.Hour),
	})
}
