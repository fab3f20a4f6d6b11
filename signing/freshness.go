package signing

import "time"

// ClockSkew is how far a signer's clock may run ahead of the verifier's: an
// iat up to ClockSkew in the future is taken as "now". It is the one skew
// for every freshness check of a signed message (device messages, commands,
// endorsements), on the broker and on the device alike.
const ClockSkew = 30 * time.Second

// CheckFreshness applies the CWT time claims of RFC 8392 §3.1.4-3.1.6, as
// carried in a protected header (RFC 9597): a message whose exp has passed,
// or whose iat lies more than ClockSkew ahead of now, is refused as
// ReasonExpired; absent claims are not checked here (a caller that requires
// one checks for nil first). field names the header for the error.
func CheckFreshness(iat, exp *int64, now time.Time, field string) error {
	if exp != nil && !now.Before(time.Unix(*exp, 0)) {
		return Reject(ReasonExpired, field, "expired at %s (now %s)", time.Unix(*exp, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if iat != nil && time.Unix(*iat, 0).After(now.Add(ClockSkew)) {
		return Reject(ReasonExpired, field, "issued at %s, more than %s ahead of now (%s)", time.Unix(*iat, 0).UTC().Format(time.RFC3339), ClockSkew, now.UTC().Format(time.RFC3339))
	}
	return nil
}
