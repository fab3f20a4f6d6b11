package twin

import (
	"encoding/json"
	"reflect"
	"strconv"
	"unsafe"
)

// Parts are the JSON encodings of a document's four parts, each exactly as
// encoding/json writes it: what the broker publishes on the part's topic,
// and what the whole document is made of.
type Parts struct {
	Reported, Desired, Delta, Meta []byte
}

// encoded keeps a document's Parts for the maps they were made from. A
// Document's maps are never modified once they exist (see Clone), so the
// bytes stay right for as long as a document holds the same maps; one that
// holds another map, however it came by it, encodes again. The pointers
// also keep the encoded maps alive, so no new map can take an old one's
// address. An encoded is never changed once made: documents copied from one
// another share it.
type encoded struct {
	maps  partMaps
	parts Parts
}

// partMaps identifies the maps a document's parts are made of.
type partMaps [6]unsafe.Pointer

// partMaps returns the identities of d's maps.
func (d *Document) partMaps() partMaps {
	return partMaps{mapID(d.Reported), mapID(d.Desired), mapID(d.Delta),
		mapID(d.Meta.Reported), mapID(d.Meta.Desired), mapID(d.Meta.Commands)}
}

// mapID is the identity of map m (nil for a nil map).
func mapID[M ~map[K]V, K comparable, V any](m M) unsafe.Pointer {
	return reflect.ValueOf(m).UnsafePointer()
}

// Parts returns the encodings of d's parts, made when the document last
// changed (commit) if it still holds the same maps.
func (d *Document) Parts() (Parts, error) {
	if d.enc != nil && d.enc.maps == d.partMaps() {
		return d.enc.parts, nil
	}
	return d.encodeParts()
}

// encodeParts encodes d's parts afresh.
func (d *Document) encodeParts() (Parts, error) {
	var p Parts
	var err error
	for _, part := range []struct {
		dst *[]byte
		v   any
	}{{&p.Reported, d.Reported}, {&p.Desired, d.Desired}, {&p.Delta, d.Delta}, {&p.Meta, d.Meta}} {
		if *part.dst, err = json.Marshal(part.v); err != nil {
			return Parts{}, err
		}
	}
	return p, nil
}

// remember keeps d's part encodings for the maps d holds now. It is called
// only on a document not yet shared (commit's next), so no reader can see
// the field change.
func (d *Document) remember(p Parts) {
	d.enc = &encoded{maps: d.partMaps(), parts: p}
}

// AppendHead appends to dst the start of d's encoding,
// {"device":…,"zone":…,"kind":…,"version":N, with zone given: the broker
// publishes a twin under the zone of its topic. The parts follow it, each
// as ,"name":bytes (AppendParts).
func (d *Document) AppendHead(dst []byte, zone string) []byte {
	dst = appendString(append(dst, `{"device":`...), d.Device)
	dst = appendString(append(dst, `,"zone":`...), zone)
	dst = appendString(append(dst, `,"kind":`...), d.Kind)
	return strconv.AppendUint(append(dst, `,"version":`...), d.Version, 10)
}

// appendString appends s as encoding/json encodes a string (HTML-safe,
// invalid UTF-8 replaced), which never fails.
func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// Part is one of a document's parts, by the name of its member and topic.
type Part struct {
	Name string
	JSON []byte
}

// List returns the parts in the document's order.
func (p Parts) List() [4]Part {
	return [4]Part{{"reported", p.Reported}, {"desired", p.Desired}, {"delta", p.Delta}, {"meta", p.Meta}}
}

// AppendParts appends each part of p as ,"name":bytes, in the document's
// order.
func AppendParts(dst []byte, p Parts) []byte {
	for _, part := range p.List() {
		dst = append(append(append(append(dst, `,"`...), part.Name...), `":`...), part.JSON...)
	}
	return dst
}

// MarshalJSON encodes the document as SPEC §7 shows it, the bytes
// encoding/json writes for its fields, from its part encodings when it has
// them.
func (d *Document) MarshalJSON() ([]byte, error) {
	p, err := d.Parts()
	if err != nil {
		return nil, err
	}
	return d.marshal(p)
}

// marshal encodes the document with parts p.
func (d *Document) marshal(p Parts) ([]byte, error) {
	security, err := json.Marshal(d.Security)
	if err != nil {
		return nil, err
	}
	n := 64 + len(d.Device) + len(d.Zone) + len(d.Kind) + len(p.Reported) + len(p.Desired) + len(p.Delta) + len(p.Meta) + len(security)
	b := d.AppendHead(make([]byte, 0, n), d.Zone)
	b = append(append(AppendParts(b, p), `,"security":`...), security...)
	return append(b, '}'), nil
}

// size is the length of d's encoding with parts p, as marshal would write
// it, for a size check that need not write it.
func (d *Document) size(p Parts) (int, error) {
	security, err := json.Marshal(d.Security)
	if err != nil {
		return 0, err
	}
	var digits [20]byte
	n := len(`{"device":,"zone":,"kind":,"version":,"security":}`) + len(security) +
		stringSize(d.Device) + stringSize(d.Zone) + stringSize(d.Kind) +
		len(strconv.AppendUint(digits[:0], d.Version, 10))
	for _, part := range p.List() {
		n += len(`,"":`) + len(part.Name) + len(part.JSON)
	}
	return n, nil
}

// stringSize is the length of s as appendString encodes it.
func stringSize(s string) int {
	return len(appendString(nil, s))
}
