package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

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

// decodeObject decodes payload as exactly one JSON object.
//
// TODO(strictjson): switch to devices/strictjson once it lands, which also
// refuses duplicate member names (RFC 8259 §4 leaves them undefined, and two
// parsers may then read two different commands from one signed payload).
// Until then a duplicate name is refused here with a token scan.
func decodeObject(payload []byte) (map[string]any, error) {
	if err := noDuplicateNames(payload); err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("must be one JSON object of the command's arguments")
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the argument object")
	}
	return m, nil
}

// noDuplicateNames refuses a JSON text in which an object repeats a member
// name (at any depth).
func noDuplicateNames(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool // the next token of an object is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error Decode reports
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, _ := tok.(string)
			if top.seen[name] {
				return fmt.Errorf("member %q appears twice", name)
			}
			top.seen[name] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{obj: true, seen: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			if f := stack[len(stack)-1]; f.obj && tok != json.Delim('{') {
				f.key = true
			}
		}
	}
}
