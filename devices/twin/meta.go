package twin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// Meta is a twin's provenance: which signed message last set each leaf of
// reported and, separately, of desired (so an operator's desired.x never
// hides who reported x), and the life of every command by name.
type Meta struct {
	Reported Provenance           `json:"reported"`
	Desired  Provenance           `json:"desired"`
	Commands map[string]FieldMeta `json:"commands"` // by command name: see command.go
}

// newMeta is an empty Meta.
func newMeta() Meta {
	return Meta{Reported: Provenance{}, Desired: Provenance{}, Commands: map[string]FieldMeta{}}
}

// Provenance mirrors a state object member by member: a member whose value
// is an object with members has the Provenance of those members, any other
// member (a scalar, an array, an empty object) the stamp of the message
// that last set it. Like a Document's maps, a Provenance is never modified
// once it exists: stamp returns a new one that shares what did not change.
type Provenance map[string]Node

// Node is one member's provenance: a leaf's Stamp, or an object's Members.
type Node struct {
	Stamp   *FieldMeta
	Members Provenance
}

// MarshalJSON encodes a leaf as its stamp {"ts","kid","ctr"} and an object
// as its members.
func (n Node) MarshalJSON() ([]byte, error) {
	if n.Members != nil {
		return json.Marshal(n.Members)
	}
	if n.Stamp == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(n.Stamp)
}

// UnmarshalJSON tells a leaf from an object by its "ts" member: a stamp's
// is a string, while every member of an object's provenance is itself an
// object, so a state member named "ts" is never mistaken for a stamp.
func (n *Node) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("twin meta: %w", err)
	}
	if isStamp(raw) {
		var m FieldMeta
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("twin meta stamp: %w", err)
		}
		*n = Node{Stamp: &m}
		return nil
	}
	members := Provenance{}
	for k, v := range raw {
		var c Node
		if err := c.UnmarshalJSON(v); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		members[k] = c
	}
	*n = Node{Members: members}
	return nil
}

// isStamp reports whether a decoded meta object is a leaf's stamp.
func isStamp(raw map[string]json.RawMessage) bool {
	ts, ok := raw["ts"]
	return ok && len(ts) > 0 && ts[0] == '"'
}

// At returns the stamp that covers the member at path: its own, or that of
// the nearest enclosing member recorded as a whole.
func (p Provenance) At(path ...string) (FieldMeta, bool) {
	for i, k := range path {
		n, ok := p[k]
		if !ok {
			return FieldMeta{}, false
		}
		if n.Members == nil {
			if n.Stamp == nil {
				return FieldMeta{}, false
			}
			return *n.Stamp, true
		}
		if i == len(path)-1 {
			return FieldMeta{}, false // an object: its members have the stamps
		}
		p = n.Members
	}
	return FieldMeta{}, false
}

// stamp returns p after merge patch patch (RFC 7396), sent in the message
// m names: a deleted member loses its provenance, a member patched with an
// object keeps that of the members the patch leaves alone, every other
// patched member gets m. p itself is not modified.
func (p Provenance) stamp(patch map[string]any, m FieldMeta) Provenance {
	out := maps.Clone(p)
	if out == nil {
		out = Provenance{}
	}
	for k, v := range patch {
		obj, isObj := v.(map[string]any)
		switch {
		case v == nil:
			delete(out, k)
		case isObj && len(obj) == 0 && out[k].Members != nil:
			// {} merged into an object changes nothing in it.
		case isObj && len(obj) > 0:
			members := out[k].Members.stamp(obj, m)
			if len(members) == 0 {
				out[k] = Node{Stamp: &m} // what is left is an empty object
			} else {
				out[k] = Node{Members: members}
			}
		default:
			s := m
			out[k] = Node{Stamp: &s}
		}
	}
	return out
}

// withdraw returns p without the top-level members names.
func (p Provenance) withdraw(names []string) Provenance {
	out := maps.Clone(p)
	for _, f := range names {
		delete(out, f)
	}
	return out
}

// stampAll is the provenance of state v as a whole set by m: every leaf of
// it stamped m (used to migrate provenance kept per top-level field).
func stampAll(v any, m FieldMeta) Node {
	if obj, ok := v.(map[string]any); ok && len(obj) > 0 {
		members := make(Provenance, len(obj))
		for k, c := range obj {
			members[k] = stampAll(c, m)
		}
		return Node{Members: members}
	}
	return Node{Stamp: &m}
}

// Newest returns the stamp with the highest counter in p (a device's
// counters only grow, so for reported it is the newest accepted message
// that still shows in the state).
func (p Provenance) Newest() (FieldMeta, bool) {
	var top FieldMeta
	found := false
	for _, n := range p {
		if m, ok := n.Newest(); ok && (!found || m.Ctr > top.Ctr) {
			top, found = m, true
		}
	}
	return top, found
}

// Newest returns the stamp with the highest counter at or under n.
func (n Node) Newest() (FieldMeta, bool) {
	if n.Members != nil {
		return n.Members.Newest()
	}
	if n.Stamp == nil {
		return FieldMeta{}, false
	}
	return *n.Stamp, true
}
