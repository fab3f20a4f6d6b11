package signing

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Defect names which strict-decoding rule of SPEC §2 a malformed envelope
// broke. Every such rejection is counted under the one Reason
// ReasonMalformed (SPEC §4 step 3); the Defect says which rule, for tests,
// logs and "signet inspect". Like reasons, defects are stable names: never
// rename one.
type Defect string

// The strict-decoding rules of SPEC §2 and RFC 8949 a message can break.
const (
	// DefectTooLarge: the message exceeds the configured size limit.
	DefectTooLarge Defect = "too_large"
	// DefectTruncated: the input ends inside a CBOR item.
	DefectTruncated Defect = "truncated"
	// DefectTrailingBytes: bytes follow the message, or the protected
	// header map inside its byte string.
	DefectTrailingBytes Defect = "trailing_bytes"
	// DefectIndefiniteLength: an indefinite-length string, array or map
	// (RFC 8949 §3.2.2); only definite lengths are allowed.
	DefectIndefiniteLength Defect = "indefinite_length"
	// DefectNonShortest: an integer, length or tag number not in its
	// shortest form (RFC 8949 §4.2.1, core deterministic encoding).
	DefectNonShortest Defect = "non_shortest"
	// DefectDuplicateLabel: a map holds one key twice (RFC 8949 §5.6,
	// RFC 9052 §3: labels must be unique).
	DefectDuplicateLabel Defect = "duplicate_label"
	// DefectUnknownLabel: a protected header label or CWT claim that SPEC §2
	// does not list; refused, never ignored.
	DefectUnknownLabel Defect = "unknown_label"
	// DefectUnprotectedNotEmpty: the unprotected header is not the empty
	// map: nothing may ride unauthenticated.
	DefectUnprotectedNotEmpty Defect = "unprotected_not_empty"
	// DefectNotSign1: not a CBOR tag 18 over a four-item array (RFC 9052 §4.2).
	DefectNotSign1 Defect = "not_cose_sign1"
	// DefectWrongType: an item of the wrong CBOR type, e.g. a text alg, a
	// nil (detached) payload, or a piv that is an integer.
	DefectWrongType Defect = "wrong_type"
	// DefectMissingLabel: alg, kid or piv is absent.
	DefectMissingLabel Defect = "missing_label"
	// DefectBadValue: the right type but a refused value: a kid or piv of
	// the wrong length, a piv with a leading zero, an unknown content type,
	// a signature of the wrong size for its algorithm.
	DefectBadValue Defect = "bad_value"
	// DefectUnknownAlg: an alg Signet does not implement.
	DefectUnknownAlg Defect = "unknown_alg"
	// DefectForbiddenItem: an item SPEC §2 never uses: a float, a tag
	// other than the outer 18, a reserved simple value, or nesting deeper
	// than any valid envelope.
	DefectForbiddenItem Defect = "forbidden_item"
)

// Defects lists every defect, for tests and documentation.
var Defects = []Defect{
	DefectTooLarge, DefectTruncated, DefectTrailingBytes, DefectIndefiniteLength,
	DefectNonShortest, DefectDuplicateLabel, DefectUnknownLabel, DefectUnprotectedNotEmpty,
	DefectNotSign1, DefectWrongType, DefectMissingLabel, DefectBadValue, DefectUnknownAlg,
	DefectForbiddenItem,
}

// DefectOf returns the Defect of err if it is (or wraps) a malformed
// *Rejection, and "" otherwise.
func DefectOf(err error) Defect {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Defect
	}
	return ""
}

// cborDefect is an error of the strict pre-pass (checkShortest) that knows
// which rule it is about.
type cborDefect struct {
	defect Defect
	msg    string
}

func (e *cborDefect) Error() string { return e.msg }

func defectf(d Defect, format string, args ...any) error {
	return &cborDefect{defect: d, msg: fmt.Sprintf(format, args...)}
}

// rejectMalformed builds a malformed *Rejection for one broken rule.
func rejectMalformed(d Defect, field, format string, args ...any) *Rejection {
	r := Reject(ReasonMalformed, field, format, args...)
	r.Defect = d
	return r
}

// malformed wraps a decoding error, classifying it by the rule it broke:
// errors of the strict pre-pass carry their Defect, and fxamacker/cbor's
// error types map onto the rest. fallback is used for anything else.
func malformed(field string, err error, fallback Defect) *Rejection {
	d := fallback
	var cd *cborDefect
	var dup *cbor.DupMapKeyError
	var typ *cbor.UnmarshalTypeError
	var indef *cbor.IndefiniteLengthError
	var syn *cbor.SyntaxError
	switch {
	case errors.As(err, &cd):
		d = cd.defect
	case errors.As(err, &dup):
		d = DefectDuplicateLabel
	case errors.As(err, &indef):
		d = DefectIndefiniteLength
	case errors.As(err, &typ):
		d = DefectWrongType
	case errors.As(err, &syn):
		d = DefectTruncated
	}
	return malformedAs(d, field, err)
}

// malformedAs wraps a decoding error whose rule the caller already knows.
func malformedAs(d Defect, field string, err error) *Rejection {
	return &Rejection{Reason: ReasonMalformed, Field: field, Defect: d, Err: err}
}
