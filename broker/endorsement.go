package broker

import (
	"fmt"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// The endorsement codec (SPEC §5, RFC 8392, RFC 8747) is signing's, shared
// with the devices that check a command again on arrival; the broker adds
// only where authority keys come from (the registry) and the time check.

// authorityKeys finds control-authority keys (devices.Edge).
type authorityKeys interface {
	AuthorityKey(kid []byte) (*devices.KeyRecord, bool)
}

// verifyEndorsement checks raw (protected label 13 of a command): signed by
// a registered control-authority key usable at now, and not past its exp.
// Every error is a *signing.Rejection: unauthorized_command, or expired for
// an endorsement past its exp.
func verifyEndorsement(raw []byte, keys authorityKeys, now time.Time) (*signing.Endorsement, error) {
	e, err := signing.VerifyEndorsement(raw, func(kid []byte) (signing.PublicKey, error) {
		k, ok := keys.AuthorityKey(kid)
		if !ok {
			return nil, fmt.Errorf("kid %s is no control-authority key", signing.FormatKeyID(kid))
		}
		if !k.Usable(now) {
			return nil, fmt.Errorf("authority key %s is revoked or expired", signing.FormatKeyID(kid))
		}
		return k.Public, nil
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(e.Expires) {
		return nil, signing.Reject(signing.ReasonExpired, "protected.endorsement.exp", "endorsement of operator %q expired at %s", e.Operator, e.Expires.UTC().Format(time.RFC3339))
	}
	return e, nil
}
