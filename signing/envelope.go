package signing

import (
	"bytes"
	"errors"

	"github.com/fxamacker/cbor/v2"
)

// COSE header labels used by SPEC §2 (RFC 9052 §3.1, RFC 9597 for 15).
const (
	labelAlg         = 1  // alg
	labelContentType = 3  // content type
	labelKID         = 4  // kid
	labelPIV         = 6  // Partial IV: the anti-replay counter
	labelEndorsement = 13 // commands only: the operator's endorsement CWT (SPEC §5)
	labelCWTClaims   = 15 // CWT claims in the header (RFC 9597)

	claimExp = 4 // CWT exp (RFC 8392 §3.1.4)
	claimIat = 6 // CWT iat (RFC 8392 §3.1.6)

	tagSign1 = 18 // COSE_Sign1 (RFC 9052 §4.2)

	// contentTypeCBOR is the CoAP content format of application/cbor.
	contentTypeCBOR = 60

	maxKIDLen = 32 // SPEC §2
	maxPIVLen = 8  // SPEC §2: a 64-bit counter
)

// Content types a header may carry (SPEC §2).
const (
	ContentTypeJSON = "application/json"
	ContentTypeCBOR = "application/cbor" // carried on the wire as the integer 60
)

// DefaultMaxSize is the default limit on an encoded envelope: room for an
// ML-DSA-87 signature (4627 bytes) and a modest payload.
const DefaultMaxSize = 64 << 10

// Header is the decoded protected header of SPEC §2.
type Header struct {
	Alg         Alg    // label 1
	KID         []byte // label 4, 1..32 bytes
	Counter     uint64 // label 6 (piv), ≥ 1
	ContentType string // label 3: "" (absent, JSON), ContentTypeJSON or ContentTypeCBOR
	IssuedAt    *int64 // label 15 / iat, seconds since the epoch
	Expires     *int64 // label 15 / exp, seconds since the epoch
	Endorsement []byte // label 13, the operator CWT (commands only)
}

// Envelope is a strictly decoded COSE_Sign1 message. Protected holds the exact
// protected-header bytes that were signed.
type Envelope struct {
	Header    Header
	Protected []byte
	Payload   []byte
	Signature []byte
}

// sign1 is the COSE_Sign1 array (RFC 9052 §4.2) after its tag.
type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected cbor.RawMessage
	Payload     cbor.RawMessage
	Signature   cbor.RawMessage
}

// decMode is the strict decoder of SPEC §2. Shortest-form arguments, floats
// and indefinite lengths are also refused by checkShortest before it runs.
var decMode = mustDecMode(cbor.DecOptions{
	DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	IndefLength:      cbor.IndefLengthForbidden,
	TagsMd:           cbor.TagsForbidden,
	MaxNestedLevels:  8,
	MaxArrayElements: 16,
	MaxMapPairs:      16,
	UTF8:             cbor.UTF8RejectInvalid,
	NaN:              cbor.NaNDecodeForbidden,
	Inf:              cbor.InfDecodeForbidden,
	BignumTag:        cbor.BignumTagForbidden,
})

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	dm, err := o.DecMode()
	if err != nil {
		panic(err) // the options above are constant
	}
	return dm
}

// Parse decodes a tagged COSE_Sign1 envelope with the strict rules of SPEC §2.
// maxSize ≤ 0 means DefaultMaxSize. Every error is a *Rejection with reason
// ReasonMalformed, a Field naming the part that was wrong and a Defect naming
// the rule it broke.
func Parse(data []byte, maxSize int) (*Envelope, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > maxSize {
		return nil, rejectMalformed(DefectTooLarge, "envelope", "%d bytes exceeds the %d-byte limit", len(data), maxSize)
	}
	if env, ok := parseFast(data); ok {
		return env, nil
	}
	return parseStrict(data)
}

// parseStrict is Parse for every envelope the fast path does not take: the
// general strict decoder, which also words every rejection.
func parseStrict(data []byte) (*Envelope, error) {
	// Anything that does not even start with a tag (JSON, text, an
	// untagged array) is not a COSE_Sign1: say so before walking it.
	if len(data) > 0 && data[0]>>5 != 6 {
		return nil, rejectMalformed(DefectNotSign1, "envelope.tag", "not a tagged COSE_Sign1 (want CBOR tag 18)")
	}
	n, err := checkShortest(data, 8)
	if err != nil {
		return nil, malformed("envelope", err, DefectTruncated)
	}
	if n != len(data) {
		return nil, rejectMalformed(DefectTrailingBytes, "envelope", "%d trailing bytes after the message", len(data)-n)
	}
	// Tag 18 in its one-byte head (0xd2); anything else is not a COSE_Sign1.
	if data[0] != 0xc0|tagSign1 {
		return nil, rejectMalformed(DefectNotSign1, "envelope.tag", "not a tagged COSE_Sign1 (want CBOR tag 18)")
	}
	var m sign1
	if err := decMode.Unmarshal(data[1:], &m); err != nil {
		// Past the strict pre-pass, what is left is the shape: a tag
		// inside, or not an array of exactly four items.
		var typ *cbor.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, malformedAs(DefectNotSign1, "envelope", err)
		}
		return nil, malformed("envelope", err, DefectForbiddenItem)
	}
	env := &Envelope{}
	if env.Protected, err = byteString(m.Protected, "protected"); err != nil {
		return nil, err
	}
	if !bytes.Equal(m.Unprotected, []byte{0xa0}) {
		return nil, rejectMalformed(DefectUnprotectedNotEmpty, "unprotected", "must be an empty map: nothing may ride unauthenticated")
	}
	if env.Payload, err = byteString(m.Payload, "payload"); err != nil {
		return nil, err
	}
	if env.Signature, err = byteString(m.Signature, "signature"); err != nil {
		return nil, err
	}
	if err := parseProtected(env.Protected, &env.Header); err != nil {
		return nil, err
	}
	if want := env.Header.Alg.SignatureSize(); want > 0 && len(env.Signature) != want {
		return nil, rejectMalformed(DefectBadValue, "signature", "%d bytes, %s signatures are %d", len(env.Signature), env.Header.Alg, want)
	}
	return env, nil
}

// byteString returns the content of a CBOR byte string item. A nil payload
// (detached content, RFC 9052 §2) is refused like any other non-bstr.
func byteString(raw cbor.RawMessage, field string) ([]byte, error) {
	if len(raw) == 0 || raw[0]>>5 != 2 {
		return nil, rejectMalformed(DefectWrongType, field, "must be a byte string")
	}
	var b []byte
	if err := decMode.Unmarshal(raw, &b); err != nil {
		return nil, malformed(field, err, DefectWrongType)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// parseProtected decodes the protected header map (SPEC §2). Unknown labels
// are refused, never ignored.
func parseProtected(p []byte, h *Header) error {
	if len(p) == 0 {
		return rejectMalformed(DefectMissingLabel, "protected", "empty: alg, kid and piv are required")
	}
	if n, err := checkShortest(p, 4); err != nil {
		return malformed("protected", err, DefectTruncated)
	} else if n != len(p) {
		return rejectMalformed(DefectTrailingBytes, "protected", "trailing bytes after the header map")
	}
	var labels map[int64]cbor.RawMessage
	if err := decMode.Unmarshal(p, &labels); err != nil {
		// A map with a text or other non-integer label cannot be decoded
		// into int64 keys: an unknown label too.
		var typ *cbor.UnmarshalTypeError
		if errors.As(err, &typ) && p[0]>>5 == 5 {
			return malformedAs(DefectUnknownLabel, "protected", err)
		}
		return malformed("protected", err, DefectWrongType)
	}
	for label, v := range labels {
		var err error
		switch label {
		case labelAlg:
			err = decodeAlg(v, h)
		case labelKID:
			h.KID, err = boundedBytes(v, "protected.kid", 1, maxKIDLen)
		case labelPIV:
			err = decodePIV(v, h)
		case labelContentType:
			err = decodeContentType(v, h)
		case labelCWTClaims:
			err = decodeClaims(v, h)
		case labelEndorsement:
			h.Endorsement, err = boundedBytes(v, "protected.endorsement", 1, DefaultMaxSize)
		default:
			err = rejectMalformed(DefectUnknownLabel, "protected", "unknown header label %d", label)
		}
		if err != nil {
			return err
		}
	}
	for _, req := range []struct {
		label int64
		name  string
	}{{labelAlg, "alg"}, {labelKID, "kid"}, {labelPIV, "piv"}} {
		if _, ok := labels[req.label]; !ok {
			return rejectMalformed(DefectMissingLabel, "protected."+req.name, "missing (label %d is required)", req.label)
		}
	}
	return nil
}

func decodeAlg(v cbor.RawMessage, h *Header) error {
	var a int64
	if err := decMode.Unmarshal(v, &a); err != nil {
		return rejectMalformed(DefectWrongType, "protected.alg", "must be an integer")
	}
	if !Alg(a).Known() {
		return rejectMalformed(DefectUnknownAlg, "protected.alg", "unknown algorithm %d", a)
	}
	h.Alg = Alg(a)
	return nil
}

// decodePIV reads the counter: a big-endian byte string of 1..8 bytes with no
// leading zero byte (SPEC §2), so that each counter has one encoding and 0 has none.
func decodePIV(v cbor.RawMessage, h *Header) error {
	b, err := boundedBytes(v, "protected.piv", 1, maxPIVLen)
	if err != nil {
		return err
	}
	if b[0] == 0 {
		return rejectMalformed(DefectBadValue, "protected.piv", "leading zero byte (counters start at 1, shortest big-endian form)")
	}
	var c uint64
	for _, x := range b {
		c = c<<8 | uint64(x)
	}
	h.Counter = c
	return nil
}

func decodeContentType(v cbor.RawMessage, h *Header) error {
	var s string
	if err := decMode.Unmarshal(v, &s); err == nil && s == ContentTypeJSON {
		h.ContentType = ContentTypeJSON
		return nil
	}
	var n uint64
	if err := decMode.Unmarshal(v, &n); err == nil && n == contentTypeCBOR {
		h.ContentType = ContentTypeCBOR
		return nil
	}
	return rejectMalformed(DefectBadValue, "protected.ctype", `must be "application/json" or 60 (application/cbor)`)
}

// maxNumericDate is 9999-12-31T23:59:59Z. A NumericDate (RFC 8392 §2)
// beyond it means nothing for a device message, and one near the int64
// limit would overflow time.Unix's arithmetic and wrap an iat far in the
// future round to the past.
const maxNumericDate = 253402300799

func decodeClaims(v cbor.RawMessage, h *Header) error {
	var claims map[int64]int64
	if err := decMode.Unmarshal(v, &claims); err != nil {
		return malformed("protected.cwt", err, DefectWrongType)
	}
	for k, val := range claims {
		if val < 0 || val > maxNumericDate {
			return rejectMalformed(DefectBadValue, "protected.cwt", "claim %d: %d is not a time between 1970 and 9999", k, val)
		}
		switch k {
		case claimIat:
			h.IssuedAt = &val
		case claimExp:
			h.Expires = &val
		default:
			return rejectMalformed(DefectUnknownLabel, "protected.cwt", "unknown claim %d (only iat 6 and exp 4)", k)
		}
	}
	return nil
}

func boundedBytes(v cbor.RawMessage, field string, minLen, maxLen int) ([]byte, error) {
	b, err := byteString(v, field)
	if err != nil {
		return nil, err
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, rejectMalformed(DefectBadValue, field, "%d bytes, want %d..%d", len(b), minLen, maxLen)
	}
	return b, nil
}
