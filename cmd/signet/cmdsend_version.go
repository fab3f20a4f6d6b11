package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/signet-city/signet/devices/catalog"
)

// withIfVersion returns the command payload with the catalogue's if_version
// argument set to version (0: payload unchanged), so that the twin version
// the operator decided on is signed with the rest. A payload that already
// names another if_version is an error: the two would contradict.
func withIfVersion(payload []byte, version uint64) ([]byte, error) {
	if version == 0 {
		return payload, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // every other argument exactly as given
	var args map[string]any
	if err := dec.Decode(&args); err != nil || args == nil {
		return nil, usagef("--if-version: the command's payload %q must be a JSON object", payload)
	}
	if v, ok := args[catalog.IfVersion.Name]; ok && fmt.Sprint(v) != fmt.Sprint(version) {
		return nil, usagef("--if-version %d: the payload already says %s %v", version, catalog.IfVersion.Name, v)
	}
	args[catalog.IfVersion.Name] = version
	return json.Marshal(args)
}
