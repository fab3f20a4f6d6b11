package catalog

import (
	"testing"

	"github.com/signet-city/signet/devices/kinds"
)

// TestCommandsSetFieldsOfTheirKind: every field a catalogue command may set
// is a field of its kind's profile, so the twin's profile check
// (kinds.ValidatePatch) never refuses a desired patch the catalogue made.
func TestCommandsSetFieldsOfTheirKind(t *testing.T) {
	for _, k := range Kinds() {
		profile, ok := kinds.Lookup(k.Name)
		if !ok {
			t.Fatalf("catalogue kind %s has no profile", k.Name)
		}
		for _, name := range k.Names() {
			c, _ := k.Command(name)
			for _, f := range c.Sets {
				if err := kinds.ValidatePatch(profile, map[string]any{f: nil}); err != nil {
					t.Errorf("%s %s sets %s: %v", k.Name, name, f, err)
				}
			}
		}
	}
}
