package signing

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// An operator endorsement (SPEC §5) is a CWT (RFC 8392 §7): a Signet
// COSE_Sign1 envelope (SPEC §2: alg, kid and piv in the protected header,
// content type 60; the piv is the endorsement's serial number) signed by a
// control-authority key, with an empty external_aad, whose payload is the
// CBOR claims map
//
//	2  sub    tstr  operator id (RFC 8392 §3.1.2)
//	4  exp    int   end of validity, seconds since the epoch, required (§3.1.4)
//	6  iat    int   issue time, optional (§3.1.6)
//	8  cnf    { 1 => COSE_Key }  the operator's public key (RFC 8747 §3.1, §3.2)
//	-65537    scope { "zones": [tstr], "kinds": [tstr], "commands": [tstr] }
//	          (a private-use claim key, RFC 8392 §9.1; "*" allows all)
//
// A command carries it in protected label 13. The broker checks it before
// delivering a command and the device again on arrival, so both ends use
// this one codec and agree byte for byte. The claim keys are in
// endorsementClaims' tags.

// cnfCOSEKey is the cnf member holding a COSE_Key (RFC 8747 §3.2).
const cnfCOSEKey = 1

// EndorsementAAD is the external_aad an endorsement is signed with: empty,
// since an endorsement is bound to no topic.
const EndorsementAAD = ""

// fieldEndorsement is the Rejection field of every endorsement error.
const fieldEndorsement = "protected.endorsement"

// CommandScope is what an endorsement allows an operator to command: device
// zones, device kinds and command names, "*" allowing all. It converts to
// devices.Scope, which decides whether a command falls within it.
type CommandScope struct {
	Zones    []string `cbor:"zones"`
	Kinds    []string `cbor:"kinds"`
	Commands []string `cbor:"commands"`
}

// EndorsementClaims is what a control authority says about an operator's
// key, apart from the key itself.
type EndorsementClaims struct {
	Operator string       // sub
	Scope    CommandScope // what the operator may command
	IssuedAt time.Time    // iat (zero when absent)
	Expires  time.Time    // exp
}

// Endorsement is a decoded endorsement whose authority signature has been
// verified. Its time (Expires, IssuedAt) is for the caller to judge.
type Endorsement struct {
	EndorsementClaims
	Authority []byte // kid of the authority key that signed it

	cnf []byte // the operator's COSE_Key, as signed
}

// endorsementClaims is the claims map on the wire.
type endorsementClaims struct {
	Sub   string                  `cbor:"2,keyasint"`
	Exp   int64                   `cbor:"4,keyasint"`
	Iat   int64                   `cbor:"6,keyasint,omitempty"`
	Cnf   map[int]cbor.RawMessage `cbor:"8,keyasint"`
	Scope CommandScope            `cbor:"-65537,keyasint"`
}

var (
	// claimsDecMode decodes claims and COSE_Keys as strictly as Parse
	// decodes envelopes: no duplicate keys, definite lengths, no tags, valid
	// UTF-8, no unknown claims.
	claimsDecMode = mustDecMode(cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   6,
		MaxArrayElements:  256,
		MaxMapPairs:       16,
		UTF8:              cbor.UTF8RejectInvalid,
	})
	// detEncMode writes core deterministic CBOR (RFC 8949 §4.2.1).
	detEncMode = func() cbor.EncMode {
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err) // constant options
		}
		return em
	}()
)

// SignEndorsement makes the endorsement CWT of operator key op with claims
// c, signed by the authority key with kid authorityKID; serial (≥ 1) goes in
// the piv.
func SignEndorsement(authority PrivateKey, authorityKID []byte, serial uint64, op PublicKey, c EndorsementClaims) ([]byte, error) {
	key, err := encodeCOSEKey(op)
	if err != nil {
		return nil, err
	}
	w := endorsementClaims{
		Sub: c.Operator, Exp: c.Expires.Unix(),
		Cnf:   map[int]cbor.RawMessage{cnfCOSEKey: key},
		Scope: c.Scope,
	}
	if !c.IssuedAt.IsZero() {
		w.Iat = c.IssuedAt.Unix()
	}
	payload, err := detEncMode.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("endorsement claims: %w", err)
	}
	return Sign(authority, Header{KID: authorityKID, Counter: serial, ContentType: ContentTypeCBOR}, payload, EndorsementAAD)
}

// AuthorityKey returns the control-authority public key named kid, or an
// error saying why kid names no key that may sign endorsements.
type AuthorityKey func(kid []byte) (PublicKey, error)

// VerifyEndorsement decodes cwt strictly, checks it was signed by the key
// that authority returns for its kid, and decodes its claims; sub, exp and
// cnf are required. It does not judge time. Every error is a *Rejection with
// ReasonUnauthorizedCommand and field protected.endorsement.
func VerifyEndorsement(cwt []byte, authority AuthorityKey) (*Endorsement, error) {
	env, err := Parse(cwt, 0)
	if err != nil {
		return nil, unauthorizedEndorsement(fmt.Errorf("not a COSE_Sign1 CWT: %w", err))
	}
	pub, err := authority(env.Header.KID)
	if err != nil {
		return nil, unauthorizedEndorsement(err)
	}
	if err := env.Verify(pub, EndorsementAAD); err != nil {
		return nil, unauthorizedEndorsement(fmt.Errorf("authority signature: %w", err))
	}
	var c endorsementClaims
	if err := claimsDecMode.Unmarshal(env.Payload, &c); err != nil {
		return nil, unauthorizedEndorsement(fmt.Errorf("claims: %w", err))
	}
	if c.Sub == "" || c.Exp == 0 || len(c.Cnf) != 1 || len(c.Cnf[cnfCOSEKey]) == 0 {
		return nil, unauthorizedEndorsement(fmt.Errorf("claims: sub, exp and cnf (COSE_Key) are required"))
	}
	e := &Endorsement{
		EndorsementClaims: EndorsementClaims{Operator: c.Sub, Scope: c.Scope, Expires: time.Unix(c.Exp, 0)},
		Authority:         env.Header.KID,
		cnf:               c.Cnf[cnfCOSEKey],
	}
	if c.Iat != 0 {
		e.IssuedAt = time.Unix(c.Iat, 0)
	}
	return e, nil
}

// Binds reports whether the endorsement's cnf is exactly pub (the COSE_Key
// is deterministic, so equal keys are equal bytes).
func (e *Endorsement) Binds(pub PublicKey) bool {
	want, err := encodeCOSEKey(pub)
	return err == nil && bytes.Equal(want, e.cnf)
}

// Key returns the endorsed operator key as a key for alg, the algorithm of
// the command that must verify under it. An error is a *Rejection with
// ReasonUnauthorizedCommand: the cnf is no key of that algorithm.
func (e *Endorsement) Key(alg Alg) (PublicKey, error) {
	k, err := decodeCOSEKey(e.cnf, alg)
	if err != nil {
		return nil, unauthorizedEndorsement(err)
	}
	return k, nil
}

func unauthorizedEndorsement(err error) *Rejection {
	return &Rejection{Reason: ReasonUnauthorizedCommand, Field: fieldEndorsement, Err: err}
}
