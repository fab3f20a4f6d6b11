package command

import (
	"encoding/json"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// Safe is the device's domain-safety check of SPEC §5 (unsafe_command). A
// command's payload is a JSON merge patch (RFC 7396) of the state the
// operator wants, as the broker reads it (broker/command.go); the device
// applies it to the state it reports and asks its kind's profile, the same
// rules the broker applies to reported state (devices/kinds), whether the
// result is a state it may be in. So a command can never make a device
// report what the broker would refuse — no 150 % lamp, no conflicting greens.
func Safe(kind string, params json.RawMessage, payload []byte, reported map[string]any) error {
	var patch any
	if err := json.Unmarshal(payload, &patch); err != nil {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "not a JSON merge patch: %v", err)
	}
	p, ok := patch.(map[string]any)
	if !ok || len(p) == 0 {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "a command's payload must be a non-empty JSON object (RFC 7396 merge patch)")
	}
	profile, ok := kinds.Lookup(kind)
	if !ok {
		return signing.Reject(signing.ReasonUnsafeCommand, "kind", "unknown kind %q", kind)
	}
	next, _ := twin.MergePatch(reported, p).(map[string]any)
	if err := kinds.ValidateCommanded(profile, params, reported, next); err != nil {
		return &signing.Rejection{Reason: signing.ReasonUnsafeCommand, Field: "payload", Err: err}
	}
	return nil
}
