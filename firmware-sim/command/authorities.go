package command

import (
	"fmt"

	"github.com/signet-city/signet/signing"
)

// Authorities are the control-authority public keys a device trusts, by kid
// (hex), as flashed into its image. They check the operator endorsement
// a command carries; the check is devices/cmdcheck's, the same the broker
// makes before delivering the command.
type Authorities map[string]signing.PublicKey

// Add trusts pub under kid (KeyID(pub) if kid is empty).
func (a Authorities) Add(pub signing.PublicKey, kid []byte) {
	if len(kid) == 0 {
		kid = signing.KeyID(pub)
	}
	a[signing.FormatKeyID(kid)] = pub
}

// key is the trusted authority key named kid.
func (a Authorities) key(kid []byte) (signing.PublicKey, error) {
	pub, ok := a[signing.FormatKeyID(kid)]
	if !ok {
		return nil, fmt.Errorf("signed by %s, not an authority this device was flashed with", signing.FormatKeyID(kid))
	}
	return pub, nil
}
