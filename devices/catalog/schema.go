package catalog

import (
	"fmt"
	"math"
	"strings"

	"github.com/signet-city/signet/devices/strictjson"
	"github.com/signet-city/signet/signing"
)

// FieldType is the JSON type of one argument.
type FieldType string

// Argument types. TimeOfDay is a string "HH:MM" (24-hour clock, local time
// of the device).
const (
	String    FieldType = "string"
	Number    FieldType = "number"
	TimeOfDay FieldType = "time-of-day"
)

// Field is one member of a command's argument object.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	Min, Max float64 // Number: inclusive bounds
	Integer  bool    // Number: a whole number only
	MaxLen   int     // String: at most this many bytes (and at least one)
	Doc      string  // one line for the catalogue document
}

// Schema is a command's argument object: exactly these fields, each of its
// type and bounds; any other member is refused.
type Schema []Field

// Args are a command's decoded, checked arguments (numbers as float64,
// strings as string).
type Args map[string]any

// String returns the argument name as a string ("" when absent).
func (a Args) String(name string) string { s, _ := a[name].(string); return s }

// Number returns the argument name as a number (0 when absent).
func (a Args) Number(name string) float64 { n, _ := a[name].(float64); return n }

// maxPayload bounds a command's argument object; the largest catalogue
// command needs a few hundred bytes.
const maxPayload = 4096

// Decode checks payload against s and returns the arguments. Errors are
// *signing.Rejection with ReasonUnsafeCommand naming the argument.
func (s Schema) Decode(payload []byte) (Args, error) {
	if len(payload) > maxPayload {
		return nil, signing.Reject(signing.ReasonUnsafeCommand, "payload", "%d bytes, more than %d", len(payload), maxPayload)
	}
	m, err := decodeObject(payload)
	if err != nil {
		return nil, signing.Reject(signing.ReasonUnsafeCommand, "payload", "%v", err)
	}
	for k := range m {
		if s.field(k) == nil {
			return nil, signing.Reject(signing.ReasonUnsafeCommand, "payload."+k, "not an argument of this command (arguments: %s)", s.names())
		}
	}
	args := Args{}
	for _, f := range s {
		v, ok := m[f.Name]
		if !ok {
			if f.Required {
				return nil, signing.Reject(signing.ReasonUnsafeCommand, "payload."+f.Name, "missing: this argument is required")
			}
			continue
		}
		if err := f.check(v); err != nil {
			return nil, signing.Reject(signing.ReasonUnsafeCommand, "payload."+f.Name, "%v", err)
		}
		args[f.Name] = v
	}
	return args, nil
}

func (f Field) check(v any) error {
	switch f.Type {
	case Number:
		n, ok := v.(float64)
		if !ok {
			return fmt.Errorf("must be a number")
		}
		if n < f.Min || n > f.Max {
			return fmt.Errorf("%v is outside %v..%v", n, f.Min, f.Max)
		}
		if f.Integer && n != math.Trunc(n) {
			return fmt.Errorf("%v is not a whole number", n)
		}
	case String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a string")
		}
		if len(s) == 0 || len(s) > f.MaxLen {
			return fmt.Errorf("must be 1..%d bytes", f.MaxLen)
		}
	case TimeOfDay:
		s, ok := v.(string)
		if !ok || !isTimeOfDay(s) {
			return fmt.Errorf(`must be a time of day "HH:MM" (00:00..23:59)`)
		}
	}
	return nil
}

func isTimeOfDay(s string) bool {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil {
		return false
	}
	return h >= 0 && h < 24 && m >= 0 && m < 60
}

func (s Schema) field(name string) *Field {
	for i := range s {
		if s[i].Name == name {
			return &s[i]
		}
	}
	return nil
}

func (s Schema) names() string {
	if len(s) == 0 {
		return "none"
	}
	out := make([]string, len(s))
	for i, f := range s {
		out[i] = f.Name
	}
	return strings.Join(out, ", ")
}

// decodeObject decodes payload as exactly one JSON object with the strict
// reader the broker and devices share (devices/strictjson): no member name
// twice at any depth (RFC 8259 §4 leaves duplicates undefined, and two
// parsers could read two different commands from one signed payload),
// valid UTF-8, nothing after the object.
func decodeObject(payload []byte) (map[string]any, error) {
	m, err := strictjson.DecodeObject(payload, 0)
	if err != nil {
		return nil, fmt.Errorf("the command's arguments: %w", err)
	}
	return m, nil
}
