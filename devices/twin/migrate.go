package twin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Twins stored before provenance was kept per leaf had one flat meta map:
// {"<top-level field>": {ts,kid,ctr[,cmd]}, "cmd/<name>": <command life>},
// where an operator's desired.x overwrote the device's entry for x. They
// are read into the current Meta here, on every read, and written in the
// current shape with their next change.

// legacyCommandPrefix started the key of a command's life in the flat map.
const legacyCommandPrefix = "cmd/"

// decodeMeta reads a stored meta object of either shape; reported and
// desired are the document's state, which the flat shape's entries are
// spread over.
func decodeMeta(b []byte, reported, desired map[string]any) (Meta, error) {
	if len(bytes.TrimSpace(b)) == 0 || bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return newMeta(), nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Meta{}, fmt.Errorf("twin meta: %w", err)
	}
	if !isLegacyMeta(raw) {
		m := newMeta()
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return Meta{}, fmt.Errorf("twin meta: %w", err)
		}
		if m.Reported == nil {
			m.Reported = Provenance{}
		}
		if m.Desired == nil {
			m.Desired = Provenance{}
		}
		if m.Commands == nil {
			m.Commands = map[string]FieldMeta{}
		}
		return m, nil
	}
	return migrateMeta(raw, reported, desired)
}

// isLegacyMeta reports whether raw is the flat shape: a member other than
// reported, desired and commands, or one of those three that is itself a
// stamp (a state field that happened to have that name).
func isLegacyMeta(raw map[string]json.RawMessage) bool {
	for k, v := range raw {
		if k != "reported" && k != "desired" && k != "commands" {
			return true
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) == nil && isStamp(inner) {
			return true
		}
	}
	return false
}

// migrateMeta spreads flat entries: a command's life goes to Commands; a
// field's entry set by a command (cmd given) to desired if desired still
// holds the field, any other entry to reported if reported holds it (else
// to desired), stamping every leaf beneath it. The device's own provenance
// of a field an operator overwrote was lost in that shape and stays so.
func migrateMeta(raw map[string]json.RawMessage, reported, desired map[string]any) (Meta, error) {
	m := newMeta()
	for k, v := range raw {
		var fm FieldMeta
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fm); err != nil {
			return Meta{}, fmt.Errorf("twin meta %q (stored before per-leaf provenance): %w", k, err)
		}
		if name, ok := strings.CutPrefix(k, legacyCommandPrefix); ok {
			m.Commands[name] = fm
			continue
		}
		want, inDesired := desired[k]
		have, inReported := reported[k]
		switch {
		case fm.Command != "" && inDesired:
			m.Desired[k] = stampAll(want, fm)
		case fm.Command == "" && inReported:
			m.Reported[k] = stampAll(have, fm)
		case fm.Command == "" && inDesired:
			m.Desired[k] = stampAll(want, fm)
		}
	}
	return m, nil
}
