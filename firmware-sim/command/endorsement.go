package command

import (
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// EndorsementAAD is the external_aad of endorsements: empty, as in
// broker/endorsement.go.
const EndorsementAAD = ""

// CWT claim keys (RFC 8392 §4, RFC 8747 §3.1) and Signet's scope claim.
const (
	claimSub   = 2
	claimExp   = 4
	claimIat   = 6
	claimCnf   = 8
	claimScope = -65537 // private use (RFC 8392 §9.1)
	cnfCOSEKey = 1      // RFC 8747 §3.2
)

// Endorsement is what a control authority says about an operator's key:
// the CWT of SPEC §5, carried in a command's protected header label 13.
//
// The wire format is broker/endorsement.go's, byte for byte (the broker
// checks a command before delivering it, the device again on arrival): a
// Signet COSE_Sign1 envelope signed by an authority key (protected: alg, the
// authority's kid, piv = a serial number, content type 60), external_aad
// empty, whose payload is the CBOR claims map
//
//	2 sub (operator id), 4 exp, 6 iat (optional),
//	8 cnf {1: COSE_Key of the operator},
//	-65537 scope {"zones": [...], "kinds": [...], "commands": [...]} ("*" allows all)
//
// The codec is duplicated here because firmware-sim may not import broker;
// both belong in signing/ (see the issue 6 report).
type Endorsement struct {
	Operator  string            // sub
	Key       signing.PublicKey // cnf: the key commands must verify under
	Scope     devices.Scope     // what the operator may command
	IssuedAt  time.Time         // iat (zero when absent)
	Expires   time.Time         // exp
	Authority []byte            // kid of the authority key that signed it

	cnf cbor.RawMessage
}

type claims struct {
	Sub   string                  `cbor:"2,keyasint"`
	Exp   int64                   `cbor:"4,keyasint"`
	Iat   int64                   `cbor:"6,keyasint,omitempty"`
	Cnf   map[int]cbor.RawMessage `cbor:"8,keyasint"`
	Scope scopeClaim              `cbor:"-65537,keyasint"`
}

type scopeClaim struct {
	Zones    []string `cbor:"zones"`
	Kinds    []string `cbor:"kinds"`
	Commands []string `cbor:"commands"`
}

// Endorse makes the endorsement CWT of e (Operator, Key, Scope, IssuedAt,
// Expires), signed by an authority key; serial (≥ 1) goes in the piv.
func Endorse(authority signing.PrivateKey, authorityKID []byte, serial uint64, e Endorsement) ([]byte, error) {
	key, err := encodeCOSEKey(e.Key)
	if err != nil {
		return nil, err
	}
	c := claims{Sub: e.Operator, Exp: e.Expires.Unix(), Cnf: map[int]cbor.RawMessage{cnfCOSEKey: key},
		Scope: scopeClaim{Zones: e.Scope.Zones, Kinds: e.Scope.Kinds, Commands: e.Scope.Commands}}
	if !e.IssuedAt.IsZero() {
		c.Iat = e.IssuedAt.Unix()
	}
	payload, err := encoder.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("endorsement claims: %w", err)
	}
	return signing.Sign(authority, signing.Header{KID: authorityKID, Counter: serial, ContentType: signing.ContentTypeCBOR}, payload, EndorsementAAD)
}

// Authorities are the control-authority public keys a device trusts, by kid
// (hex), as flashed into its image.
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
// of that algorithm. It does not check time (Verifier.Check does). Every
// error is a *signing.Rejection with ReasonUnauthorizedCommand.
func (a Authorities) Verify(cwt []byte, alg signing.Alg) (*Endorsement, error) {
	unauthorized := func(format string, args ...any) error {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", format, args...)
	}
	env, err := signing.Parse(cwt, 0)
	if err != nil {
		return nil, unauthorized("not a COSE_Sign1 CWT: %v", err)
	}
	pub, ok := a[signing.FormatKeyID(env.Header.KID)]
	if !ok {
		return nil, unauthorized("signed by %s, not an authority this device was flashed with", signing.FormatKeyID(env.Header.KID))
	}
	if err := env.Verify(pub, EndorsementAAD); err != nil {
		return nil, unauthorized("authority signature: %v", err)
	}
	var c claims
	if err := strict.Unmarshal(env.Payload, &c); err != nil {
		return nil, unauthorized("claims: %v", err)
	}
	if c.Sub == "" || c.Exp == 0 || len(c.Cnf) != 1 || len(c.Cnf[cnfCOSEKey]) == 0 {
		return nil, unauthorized("claims: sub, exp and cnf (COSE_Key) are required")
	}
	key, err := decodeCOSEKey(c.Cnf[cnfCOSEKey], alg)
	if err != nil {
		return nil, unauthorized("%v", err)
	}
	e := &Endorsement{Operator: c.Sub, Key: key, Expires: time.Unix(c.Exp, 0), Authority: env.Header.KID, cnf: c.Cnf[cnfCOSEKey],
		Scope: devices.Scope{Zones: c.Scope.Zones, Kinds: c.Scope.Kinds, Commands: c.Scope.Commands}}
	if c.Iat != 0 {
		e.IssuedAt = time.Unix(c.Iat, 0)
	}
	return e, nil
}

// strict decodes claims as strictly as signing decodes envelopes: no
// duplicate keys, definite lengths, no tags, no unknown claims.
var strict = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden,
		TagsMd: cbor.TagsForbidden, ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels: 6, MaxArrayElements: 256, MaxMapPairs: 16, UTF8: cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return dm
}()

// encoder writes core deterministic CBOR (RFC 8949 §4.2.1).
var encoder = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err) // constant options
	}
	return em
}()
