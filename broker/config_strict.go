package broker

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkKnownKeys refuses a key of a config section that the section's struct
// (of type T) has no yaml field for. A yaml.v3 decoder's KnownFields does not
// reach into a custom UnmarshalYAML, so every section that has one calls this
// first: a typo would otherwise keep a default without a word.
func checkKnownKeys[T any](n *yaml.Node, section string) error {
	if n.Kind != yaml.MappingNode {
		return nil // Decode names the wrong shape
	}
	var known []string
	for _, f := range reflect.VisibleFields(reflect.TypeFor[T]()) {
		if name := strings.Split(f.Tag.Get("yaml"), ",")[0]; name != "" && name != "-" {
			known = append(known, name)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		found := false
		for _, name := range known {
			found = found || name == k.Value
		}
		if !found {
			return fmt.Errorf("line %d: %s: field %s not found (known: %s)", k.Line, section, k.Value, strings.Join(known, ", "))
		}
	}
	return nil
}
