package broker

import (
	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

// strictCommand reads a command's arguments as devices do (strictjson):
// one object, no duplicate member names at any depth, no trailing data, no
// invalid UTF-8, bounded nesting. The command policy has judged the
// desired state it asks for; a payload that another parser could read as
// a different state is unsafe whatever that judgement was.
func strictCommand(payload []byte, maxDepth int) error {
	if _, err := strictjson.DecodeObject(payload, maxDepth); err != nil {
		return signing.Reject(signing.ReasonUnsafeCommand, "payload", "not one strict JSON object: %v", err)
	}
	return nil
}
