package broker

import (
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/signing"
)

// commandFields checks that the desired patch the catalogue computed from a
// command's arguments names only fields of the device's kind
// (kinds.ValidatePatch), deletions included. The arguments themselves were
// read strictly (devices/strictjson) and against the command's schema by the
// catalogue; this is the twin's side of the same bound, so that a catalogue
// entry can never write a field its kind does not have.
func commandFields(desired map[string]any, kind string) error {
	profile, ok := kinds.Lookup(kind)
	if !ok {
		return signing.Reject(signing.ReasonUnsafeCommand, "kind", "unknown kind %q", kind)
	}
	if err := kinds.ValidatePatch(profile, desired); err != nil {
		return &signing.Rejection{Reason: signing.ReasonUnsafeCommand, Field: "desired", Err: err}
	}
	return nil
}
