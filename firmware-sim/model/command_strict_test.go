package model

import (
	"testing"

	"github.com/signet-city/signet/devices/catalog"
)

// TestCommandsReadStrictly: a device reads a command's arguments with the
// catalogue's strict reader, the broker's own: a payload that parsers could
// read two ways is refused before the model sees it, and the honest one is
// acted on.
func TestCommandsReadStrictly(t *testing.T) {
	sl := &Streetlight{}
	light, _ := catalog.Lookup("streetlight")
	for _, hostile := range []string{`{"level":100,"level":10}`, `{"level":10} {"level":100}`, `{"level":10,"x":{"a":1,"a":2}}`} {
		if _, err := light.Prepare("set-level", []byte(hostile), catalog.State{Kind: "streetlight"}); err == nil {
			t.Errorf("set-level %s was accepted", hostile)
		}
	}
	req, err := light.Prepare("set-level", []byte(`{"level":10}`), catalog.State{Kind: "streetlight"})
	if err != nil {
		t.Fatalf("honest set-level refused: %v", err)
	}
	if err := sl.Command(req.Command.Name, req.Args); err != nil {
		t.Fatal(err)
	}
	if sl.manual == nil || *sl.manual != 10 {
		t.Fatalf("the honest command was not applied: %v", sl.manual)
	}
}
