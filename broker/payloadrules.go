package broker

import (
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

// strictCommand reads a command's arguments as devices do (strictjson):
// one object, no duplicate member names at any depth, no trailing data, no
// invalid UTF-8, bounded nesting; and it names only fields of the device's
// kind (kinds.ValidatePatch), deletions included. The command policy has
// judged the desired state it asks for; a payload that another parser could
// read as a different state, or that would record names the kind does not
// have, is unsafe whatever that judgement was.
func strictCommand(payload []byte, maxDepth int, kind string) error {
	patch, err := strictjson.DecodeObject(payload, maxDepth)
	if err != nil {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "not one strict JSON object: %v", err)
	}
	profile, ok := kinds.Lookup(kind)
	if !ok {
		return signing.Reject(signing.ReasonUnsafeCommand, "kind", "unknown kind %q", kind)
	}
	if err := kinds.ValidatePatch(profile, patch); err != nil {
		return &signing.Rejection{Reason: signing.ReasonUnsafeCommand, Field: "payload", Err: err}
	}
	return nil
}
