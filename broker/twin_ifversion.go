package broker

import (
	"fmt"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

// signedIfVersion checks the command API's if_version body member against
// the envelope: the version a command is checked against is the one its
// operator signed into its arguments (catalog.IfVersion), so a body that
// says one must say the same, or the console and the signature disagree
// about what was decided. want nil: nothing to check.
func signedIfVersion(env []byte, want *uint64) error {
	if want == nil {
		return nil
	}
	e, err := signing.Parse(env, 0)
	if err != nil {
		return nil // the verify path refuses it with its reason
	}
	args, err := strictjson.DecodeObject(e.Payload, 0)
	if err != nil {
		return nil
	}
	signed, _ := args[catalog.IfVersion.Name].(float64)
	if signed != float64(*want) {
		if _, ok := args[catalog.IfVersion.Name]; !ok {
			return fmt.Errorf("if_version: %d in the body, but the signed command names no if_version (sign it with signet cmd send --if-version %d)", *want, *want)
		}
		return fmt.Errorf("if_version: %d in the body, but the signed command says %v", *want, args[catalog.IfVersion.Name])
	}
	return nil
}
