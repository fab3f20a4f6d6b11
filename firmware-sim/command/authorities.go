package command

import (
	"fmt"

	"github.com/signet-city/signet/signing"
)

// Authorities are the control-authority public keys a device trusts, by kid
// (hex), as flashed into its image. They check the operator endorsement
// (SPEC §5) a command carries; the codec is signing's, the same the broker
// checks the command with before delivering it.
type Authorities map[string]signing.PublicKey

// Add trusts pub under kid (KeyID(pub) if kid is empty).
func (a Authorities) Add(pub signing.PublicKey, kid []byte) {
	if len(kid) == 0 {
		kid = signing.KeyID(pub)
	}
	a[signing.FormatKeyID(kid)] = pub
}

// Verify checks an endorsement CWT for a command signed with alg: strict
// envelope, signed by a trusted authority key, well-formed claims, a cnf key
// of that algorithm, which it returns with the endorsement. It does not
// check time (Verifier.Check does). Every error is a *signing.Rejection with
// ReasonUnauthorizedCommand.
func (a Authorities) Verify(cwt []byte, alg signing.Alg) (*signing.Endorsement, signing.PublicKey, error) {
	e, err := signing.VerifyEndorsement(cwt, a.key)
	if err != nil {
		return nil, nil, err
	}
	key, err := e.Key(alg)
	if err != nil {
		return nil, nil, err
	}
	return e, key, nil
}

// key is the trusted authority key named kid.
func (a Authorities) key(kid []byte) (signing.PublicKey, error) {
	pub, ok := a[signing.FormatKeyID(kid)]
	if !ok {
		return nil, fmt.Errorf("signed by %s, not an authority this device was flashed with", signing.FormatKeyID(kid))
	}
	return pub, nil
}
