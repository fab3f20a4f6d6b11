package broker

import (
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// headerFitsClass refuses protected-header labels that the topic's class
// does not allow. The operator endorsement (label 13) belongs to commands
// only (SPEC §2, §5): on any other message nothing would check it, and a
// signed field that no one checks is one that a reader may trust by
// mistake. It is part of the strict parse (SPEC §4 step 3): malformed.
func headerFitsClass(c topic.Class, h signing.Header) error {
	if c != topic.Cmd && len(h.Endorsement) > 0 {
		return signing.Reject(signing.ReasonMalformed, "protected.endorsement", "label 13 (an operator endorsement) is allowed on commands only, not on %s messages", c)
	}
	return nil
}

// deviceFresh honours the CWT time claims (RFC 8392 §3.1.4, §3.1.6, in the
// protected header per RFC 9597) of a device message that carries them: a
// message signed to expire is refused once it has, like a command, with
// the one clock skew of signing.ClockSkew. Device messages need not carry
// them; their counter is what stops a replay.
func deviceFresh(h signing.Header, now time.Time) error {
	return signing.CheckFreshness(h.IssuedAt, h.Expires, now, "protected.cwt")
}
