// Package kinds holds the device kind profiles: for each kind of city device,
// which model parameters it is enrolled with and which reported state fields
// are valid, with their types and ranges (SPEC §4 step 10, invalid_state).
//
// Reported state is the merged twin state (SPEC §7) after a state message's
// merge patch; profiles see it before and after, so rules about transitions
// (a traffic signal's yellow) can be checked.
package kinds

import (
	"encoding/json"
	"slices"
	"sort"

	"github.com/signet-city/signet/signing"
)

// Profile is one kind of device.
type Profile interface {
	// Kind is the kind's name, as in the registry and the twin.
	Kind() string
	// ValidateParams checks the model parameters a device is enrolled with
	// (may be empty for kinds that need none).
	ValidateParams(params json.RawMessage) error
	// ValidateReported checks the reported state after a merge (next)
	// against the state before it (prev). Errors are *signing.Rejection
	// with ReasonInvalidState and Field naming the JSON path. A profile
	// may also record in next what it derives and the twin must show
	// (a traffic signal's fault, mmu.go); it never changes prev.
	ValidateReported(params json.RawMessage, prev, next map[string]any) error
}

var profiles = map[string]Profile{
	trafficSignal{}.Kind(): trafficSignal{},
	loopDetector.Kind():    loopDetector,
	streetlight.Kind():     streetlight,
	airQuality.Kind():      airQuality,
}

// Lookup returns the profile of kind.
func Lookup(kind string) (Profile, bool) {
	p, ok := profiles[kind]
	return p, ok
}

// Kinds lists the known kinds, sorted.
func Kinds() []string {
	out := make([]string, 0, len(profiles))
	for k := range profiles {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// invalid returns the invalid_state rejection for a JSON path.
func invalid(path, format string, args ...any) error {
	return signing.Reject(signing.ReasonInvalidState, path, format, args...)
}

// field is the type and range of one reported value.
type field struct {
	typ      string   // "number", "bool", "string" or "object"
	min, max float64  // numbers
	enum     []string // strings; empty: any up to 128 bytes
	sub      fields   // objects: fields of every member (map of id -> object)
	dynamic  bool     // object whose member names are ids, each checked against sub
}

type fields map[string]field

// check validates v at path against the spec.
func (f field) check(path string, v any) error {
	switch f.typ {
	case "number":
		n, ok := v.(float64)
		if !ok {
			return invalid(path, "must be a number")
		}
		if n < f.min || n > f.max {
			return invalid(path, "%v is outside %v..%v", n, f.min, f.max)
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return invalid(path, "must be true or false")
		}
	case "string":
		s, ok := v.(string)
		if !ok {
			return invalid(path, "must be a string")
		}
		if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
			return invalid(path, "%q is not one of %v", s, f.enum)
		}
		if len(s) > 128 {
			return invalid(path, "longer than 128 bytes")
		}
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return invalid(path, "must be an object")
		}
		if f.dynamic {
			if len(m) > 64 {
				return invalid(path, "more than 64 members")
			}
			for id, e := range m {
				if id == "" || len(id) > maxIDBytes {
					return invalid(shortPath(path+"."+id), "member name must be 1..%d bytes", maxIDBytes)
				}
				if err := (field{typ: "object", sub: f.sub}).check(path+"."+id, e); err != nil {
					return err
				}
			}
			return nil
		}
		return f.sub.check(path, m)
	}
	return nil
}

// check validates an object: every member known and valid.
func (fs fields) check(path string, m map[string]any) error {
	for k, v := range m {
		f, ok := fs[k]
		p := k
		if path != "" {
			p = path + "." + k
		}
		if !ok {
			return invalid(shortPath(p), "unknown field (known: %v)", fs.names())
		}
		if err := f.check(p, v); err != nil {
			return err
		}
	}
	return nil
}

func (fs fields) names() []string {
	out := make([]string, 0, len(fs))
	for k := range fs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
