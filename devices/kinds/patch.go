package kinds

import (
	"fmt"
	"strings"
)

// maxIDBytes bounds the member names of an id map (signal groups, lanes):
// ids are short labels, and a name of any length would let a device grow
// its twin with members it deletes again.
const maxIDBytes = 64

// declared is a profile that lists its reported fields: every profile of
// this package.
type declared interface {
	fieldSet() fields
}

// ValidatePatch checks a state message's or command's merge patch (RFC
// 7396) against the fields p declares: every member name, at every level,
// must be one of the profile's fields, including members the patch deletes
// with null, which leave no trace in the merged state that ValidateReported
// sees. Values are left to ValidateReported. Errors are *signing.Rejection
// with ReasonInvalidState naming the path.
func ValidatePatch(p Profile, patch map[string]any) error {
	d, ok := p.(declared)
	if !ok {
		return invalid("", "kind %s declares no fields", p.Kind())
	}
	return d.fieldSet().checkNames("", patch)
}

// checkNames walks a patch: names known, id maps' names short, nested
// objects walked against their fields.
func (fs fields) checkNames(path string, m map[string]any) error {
	for k, v := range m {
		p := joinPath(path, k)
		f, ok := fs[k]
		if !ok {
			return invalid(shortPath(p), "unknown field (known: %v)", fs.names())
		}
		sub, isObj := v.(map[string]any)
		if !isObj || f.typ != "object" {
			continue // a value, or null: judged on the merged state
		}
		if !f.dynamic {
			if err := f.sub.checkNames(p, sub); err != nil {
				return err
			}
			continue
		}
		for id, e := range sub {
			ip := joinPath(p, id)
			if id == "" || len(id) > maxIDBytes {
				return invalid(shortPath(ip), "member name must be 1..%d bytes", maxIDBytes)
			}
			if eo, ok := e.(map[string]any); ok {
				if err := f.sub.checkNames(ip, eo); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// shortPath keeps a hostile member name out of errors, events and logs
// whole.
func shortPath(p string) string {
	const max = 96
	if len(p) <= max {
		return p
	}
	return fmt.Sprintf("%s… (%d bytes)", strings.ToValidUTF8(p[:max], "?"), len(p))
}

func (trafficSignal) fieldSet() fields { return trafficSignalFields }
