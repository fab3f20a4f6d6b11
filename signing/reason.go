package signing

import (
	"errors"
	"fmt"
)

// Reason is the stable name of why a message was rejected (SPEC §4). Every
// layer of Signet reports rejections with these names; they appear in security
// events, metrics and the twin's security counters, so never rename one.
type Reason string

// The rejection reasons of SPEC §4, in verification order.
const (
	ReasonBadTopic            Reason = "bad_topic"
	ReasonZoneMismatch        Reason = "zone_mismatch"
	ReasonRateLimited         Reason = "rate_limited"
	ReasonMalformed           Reason = "malformed"
	ReasonUnknownKID          Reason = "unknown_kid"
	ReasonRevoked             Reason = "revoked"
	ReasonImpersonation       Reason = "impersonation"
	ReasonAlgMismatch         Reason = "alg_mismatch"
	ReasonReplay              Reason = "replay"
	ReasonBadSignature        Reason = "bad_signature"
	ReasonUnauthorizedCommand Reason = "unauthorized_command"
	ReasonExpired             Reason = "expired"
	ReasonUnsafeCommand       Reason = "unsafe_command"
	ReasonInvalidState        Reason = "invalid_state"
	// ReasonStaleVersion refuses a command decided on a twin version
	// (its if_version argument) that the twin has since moved on from.
	ReasonStaleVersion Reason = "stale_version"
)

// Reasons lists every reason in SPEC §4 order.
var Reasons = []Reason{
	ReasonBadTopic, ReasonZoneMismatch, ReasonRateLimited, ReasonMalformed,
	ReasonUnknownKID, ReasonRevoked, ReasonImpersonation, ReasonAlgMismatch,
	ReasonReplay, ReasonBadSignature, ReasonUnauthorizedCommand, ReasonExpired,
	ReasonUnsafeCommand, ReasonInvalidState, ReasonStaleVersion,
}

// Rejection is an error that carries a Reason, the field it is about and,
// optionally, the underlying cause.
type Rejection struct {
	Reason Reason // stable name (SPEC §4)
	Field  string // what was wrong, e.g. "protected.piv" or "signature"
	// Defect is, for ReasonMalformed from Parse, the strict-decoding rule
	// that was broken (SPEC §2); "" otherwise.
	Defect Defect
	Err    error // cause, may be nil
}

// Error returns "reason: field: cause".
func (r *Rejection) Error() string {
	s := string(r.Reason)
	if r.Field != "" {
		s += ": " + r.Field
	}
	if r.Err != nil {
		s += ": " + r.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (r *Rejection) Unwrap() error { return r.Err }

// Reject builds a *Rejection with a formatted cause.
func Reject(reason Reason, field string, format string, args ...any) *Rejection {
	var err error
	if format != "" {
		err = fmt.Errorf(format, args...)
	}
	return &Rejection{Reason: reason, Field: field, Err: err}
}

// ReasonOf returns the Reason of err if it is (or wraps) a *Rejection, and
// ReasonMalformed otherwise: an error nobody classified is never accepted.
func ReasonOf(err error) Reason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ReasonMalformed
}
