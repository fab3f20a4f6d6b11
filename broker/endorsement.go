package broker

import (
	"fmt"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// The endorsement codec (RFC 8392, RFC 8747) and its checks are shared with
// the devices (devices/cmdcheck); the broker adds only where authority keys
// come from, the registry, and whether such a key is still usable.

// authorityKeys finds control-authority keys (devices.Edge).
type authorityKeys interface {
	AuthorityKey(kid []byte) (*devices.KeyRecord, bool)
}

// authorityKey is the registered control-authority key kid, if usable at
// now (not revoked, not past its end of validity).
func authorityKey(keys authorityKeys, kid []byte, now time.Time) (signing.PublicKey, error) {
	k, ok := keys.AuthorityKey(kid)
	if !ok {
		return nil, fmt.Errorf("kid %s is no control-authority key", signing.FormatKeyID(kid))
	}
	if !k.Usable(now) {
		return nil, fmt.Errorf("authority key %s is revoked or expired", signing.FormatKeyID(kid))
	}
	return k.Public, nil
}
