package broker

import (
	"bytes"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// An operator endorsement (SPEC §5) is a CWT (RFC 8392): a Signet
// COSE_Sign1 envelope (SPEC §2: alg, kid and piv in the protected header; the
// piv is the endorsement's serial number) signed by a control-authority key,
// with an empty external_aad (topic ""), whose payload is the CBOR claims map
//
//	2  sub    tstr  operator id
//	4  exp    int   end of validity, seconds since the epoch (required)
//	6  iat    int   issue time (optional)
//	8  cnf    { 1 => COSE_Key }  the operator's public key (RFC 8747 §3.2)
//	-65537    scope { "zones": [tstr], "kinds": [tstr], "commands": [tstr] }
//	          (a private-use claim key, RFC 8392 §9.1; "*" allows all)
//
// The COSE_Key (RFC 9052 §7, RFC 9053 §7) is in core deterministic encoding
// (RFC 8949 §4.2.1), so the broker compares it byte for byte with the key it
// derives from the registry: OKP {1:1, -1:crv, -2:x} for Ed25519 (crv 6) and
// Ed448 (crv 7); EC2 {1:2, -1:1, -2:x, -3:y} for ES256 (uncompressed keys);
// AKP {1:7, 3:alg, -1:pub} for ML-DSA.
//
// This codec lives beside the broker for now; devices will need the same
// parser, so it belongs in signing/ once that package takes it.

// cnfCOSEKey is the cnf member holding a COSE_Key (RFC 8747 §3.2). The claim
// keys (RFC 8392 §4) are in endorsementClaims' tags.
const cnfCOSEKey = 1

// Endorsement is a decoded, verified operator endorsement.
type Endorsement struct {
	Authority string        // id of the authority whose key signed it
	Operator  string        // sub
	Expires   time.Time     // exp
	IssuedAt  time.Time     // iat (zero when absent)
	Scope     devices.Scope // what the authority allows the operator
	cnf       []byte        // the COSE_Key bytes
}

// endorsementClaims is the claims map on the wire.
type endorsementClaims struct {
	Sub   string                  `cbor:"2,keyasint"`
	Exp   int64                   `cbor:"4,keyasint"`
	Iat   int64                   `cbor:"6,keyasint,omitempty"`
	Cnf   map[int]cbor.RawMessage `cbor:"8,keyasint"`
	Scope endorsementScope        `cbor:"-65537,keyasint"`
}

type endorsementScope struct {
	Zones    []string `cbor:"zones"`
	Kinds    []string `cbor:"kinds"`
	Commands []string `cbor:"commands"`
}

var (
	claimsDec = mustDecMode(cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   6,
		MaxArrayElements:  256,
		MaxMapPairs:       16,
	})
	detEnc = mustEncMode(cbor.CoreDetEncOptions())
)

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	dm, err := o.DecMode()
	if err != nil {
		panic(err) // constant options
	}
	return dm
}

func mustEncMode(o cbor.EncOptions) cbor.EncMode {
	em, err := o.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}

// COSEKey returns the core-deterministic COSE_Key of pub, as carried in an
// endorsement's cnf claim.
func COSEKey(pub signing.PublicKey) ([]byte, error) {
	raw := pub.Bytes()
	var m map[int]any
	switch alg := pub.Alg(); {
	case alg == signing.AlgEd25519 || (alg == signing.AlgEdDSA && len(raw) == 32):
		m = map[int]any{1: 1, -1: 6, -2: raw}
	case alg == signing.AlgEd448 || (alg == signing.AlgEdDSA && len(raw) == 57):
		m = map[int]any{1: 1, -1: 7, -2: raw}
	case alg == signing.AlgES256 && len(raw) == 65 && raw[0] == 4:
		m = map[int]any{1: 2, -1: 1, -2: raw[1:33], -3: raw[33:]}
	case alg == signing.AlgMLDSA44 || alg == signing.AlgMLDSA65 || alg == signing.AlgMLDSA87:
		m = map[int]any{1: 7, 3: int64(alg), -1: raw}
	default:
		return nil, fmt.Errorf("cnf: no COSE_Key form for a %d-byte %s key", len(raw), alg)
	}
	return detEnc.Marshal(m)
}

// SignEndorsement makes an endorsement of operator key op, signed by the
// authority key auth (with kid authKID and serial number serial).
func SignEndorsement(auth signing.PrivateKey, authKID []byte, serial uint64, operator string, op signing.PublicKey, scope devices.Scope, iat, exp time.Time) ([]byte, error) {
	key, err := COSEKey(op)
	if err != nil {
		return nil, err
	}
	c := endorsementClaims{
		Sub: operator, Exp: exp.Unix(),
		Cnf:   map[int]cbor.RawMessage{cnfCOSEKey: key},
		Scope: endorsementScope{Zones: scope.Zones, Kinds: scope.Kinds, Commands: scope.Commands},
	}
	if !iat.IsZero() {
		c.Iat = iat.Unix()
	}
	payload, err := detEnc.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("endorsement claims: %w", err)
	}
	return signing.Sign(auth, signing.Header{KID: authKID, Counter: serial, ContentType: signing.ContentTypeCBOR}, payload, "")
}

// authorityKeys finds control-authority keys (devices.Edge).
type authorityKeys interface {
	AuthorityKey(kid []byte) (*devices.KeyRecord, bool)
}

// VerifyEndorsement decodes raw (protected label 13 of a command), checks
// the authority's signature and returns the claims. Every error is a
// *signing.Rejection: unauthorized_command, or expired for an endorsement
// past its exp.
func VerifyEndorsement(raw []byte, keys authorityKeys, now time.Time) (*Endorsement, error) {
	unauthorized := func(format string, args ...any) error {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", format, args...)
	}
	env, err := signing.Parse(raw, 0)
	if err != nil {
		return nil, unauthorized("not a COSE_Sign1 CWT: %v", err)
	}
	k, ok := keys.AuthorityKey(env.Header.KID)
	if !ok {
		return nil, unauthorized("kid %s is no control-authority key", signing.FormatKeyID(env.Header.KID))
	}
	if !k.Usable(now) {
		return nil, unauthorized("authority key %s is revoked or expired", signing.FormatKeyID(env.Header.KID))
	}
	if err := env.Verify(k.Public, ""); err != nil {
		return nil, unauthorized("authority signature: %v", err)
	}
	var c endorsementClaims
	if err := claimsDec.Unmarshal(env.Payload, &c); err != nil {
		return nil, unauthorized("claims: %v", err)
	}
	if c.Sub == "" || c.Exp == 0 || len(c.Cnf) != 1 || len(c.Cnf[cnfCOSEKey]) == 0 {
		return nil, unauthorized("claims: sub, exp and cnf (COSE_Key) are required")
	}
	e := &Endorsement{
		Authority: k.Owner, Operator: c.Sub, Expires: time.Unix(c.Exp, 0),
		Scope: devices.Scope{Zones: c.Scope.Zones, Kinds: c.Scope.Kinds, Commands: c.Scope.Commands},
		cnf:   c.Cnf[cnfCOSEKey],
	}
	if c.Iat != 0 {
		e.IssuedAt = time.Unix(c.Iat, 0)
	}
	if !now.Before(e.Expires) {
		return nil, signing.Reject(signing.ReasonExpired, "protected.endorsement.exp", "endorsement of operator %q expired at %s", c.Sub, e.Expires.UTC().Format(time.RFC3339))
	}
	return e, nil
}

// Binds reports whether the endorsement's cnf is exactly pub.
func (e *Endorsement) Binds(pub signing.PublicKey) bool {
	want, err := COSEKey(pub)
	return err == nil && bytes.Equal(want, e.cnf)
}
