// Package topic parses and builds the MQTT topic names of SPEC §1, so that the
// broker, the simulators and the tools agree on one grammar:
//
//	city/{zone}/{device}/tele/{stream}   signed telemetry
//	city/{zone}/{device}/state           signed reported state (merge patch)
//	city/{zone}/{device}/evt/{kind}      signed events
//	city/{zone}/{device}/cmd/{name}      signed command
//	city/{zone}/{device}/ack             signed command result
//	$twin/{zone}/{device}                broker only: the whole document
//	$twin/{zone}/{device}/{part}         broker only
//	$twin/{zone}/{device}/rejected       broker only: the device's refusals
//	$security/events                     broker only
package topic

import (
	"fmt"
	"strings"
)

// Class is the kind of a city/ topic.
type Class string

// The classes of SPEC §1.
const (
	Tele  Class = "tele"
	State Class = "state"
	Event Class = "evt"
	Cmd   Class = "cmd"
	Ack   Class = "ack"
)

// Root prefixes of SPEC §1.
const (
	CityRoot     = "city"
	TwinRoot     = "$twin"
	SecurityRoot = "$security"
	// SecurityEvents is where the broker publishes security events.
	SecurityEvents = "$security/events"
)

// Twin parts published under $twin/{zone}/{device}/ (SPEC §1, §7).
var TwinParts = []string{"reported", "desired", "delta", "meta"}

// TwinRejected is the last segment of $twin/{zone}/{device}/rejected, where
// the broker tells a device (and its zone's readers) why it refused one of
// its messages. It is not a part of the twin document.
const TwinRejected = "rejected"

// MaxIDLen is the longest zone, device or name segment (SPEC §1).
const MaxIDLen = 64

// City is a parsed city/ topic.
type City struct {
	Zone   string
	Device string
	Class  Class
	Name   string // stream, event kind or command name; empty for state and ack
}

// String builds the topic name.
func (c City) String() string {
	s := CityRoot + "/" + c.Zone + "/" + c.Device + "/" + string(c.Class)
	if c.Name != "" {
		s += "/" + c.Name
	}
	return s
}

// ParseCity parses a topic under city/. Anything that does not match SPEC §1
// exactly is an error (reason bad_topic).
func ParseCity(t string) (City, error) {
	seg, n := citySegments(t)
	return cityOf(t, seg, n)
}

// citySegments cuts t at its first five slashes: the segments, and how
// many there are (6 standing for six or more, too many for any class).
// Cut segment by segment rather than strings.Split: every message's
// topic is parsed on the verify path and again by the dashboard's hook,
// and the slice Split returns was an allocation each time.
func citySegments(t string) (seg [5]string, n int) {
	rest := t
	for {
		s, more, found := strings.Cut(rest, "/")
		seg[n] = s
		n++
		if !found {
			return seg, n
		}
		if n == len(seg) {
			return seg, n + 1
		}
		rest = more
	}
}

// cityOf checks the n segments of t (SPEC §1) and names what is wrong.
func cityOf(t string, seg [5]string, n int) (City, error) {
	if n < 4 || seg[0] != CityRoot {
		return City{}, fmt.Errorf("topic %q is not city/{zone}/{device}/{tele|state|evt|cmd|ack}[/{name}]", t)
	}
	c := City{Zone: seg[1], Device: seg[2], Class: Class(seg[3])}
	if err := ValidID("zone", c.Zone); err != nil {
		return City{}, err
	}
	if err := ValidID("device", c.Device); err != nil {
		return City{}, err
	}
	switch c.Class {
	case State, Ack:
		if n != 4 {
			return City{}, fmt.Errorf("topic %q: nothing may follow %q", t, c.Class)
		}
	case Tele, Event, Cmd:
		if n != 5 {
			return City{}, fmt.Errorf("topic %q: %q needs exactly one name segment", t, c.Class)
		}
		c.Name = seg[4]
		if err := ValidID(nameOf[c.Class], c.Name); err != nil {
			return City{}, err
		}
	default:
		return City{}, fmt.Errorf("topic %q: unknown class %q (want tele, state, evt, cmd or ack)", t, c.Class)
	}
	return c, nil
}

// nameOf is what ValidID calls a class's name segment, spelled out so
// that no message builds the string anew.
var nameOf = map[Class]string{Tele: "tele name", Event: "evt name", Cmd: "cmd name"}

// ValidID checks a zone, device or name segment: [a-z0-9-]{1,64} (SPEC §1).
// what names the segment in the error.
func ValidID(what, s string) error {
	if len(s) == 0 || len(s) > MaxIDLen {
		return fmt.Errorf("%s %q: must be 1 to %d characters of a-z, 0-9 and -", what, s, MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%s %q: character %q not allowed (a-z, 0-9 and - only)", what, s, c)
		}
	}
	return nil
}

// Twin returns $twin/{zone}/{device}/{part}.
func Twin(zone, device, part string) string {
	return TwinDocument(zone, device) + "/" + part
}

// TwinDocument returns $twin/{zone}/{device}, where the whole twin document
// of one version is published.
func TwinDocument(zone, device string) string {
	return TwinRoot + "/" + zone + "/" + device
}

// IsReserved reports whether t is under one of Signet's roots (city/, $twin/,
// $security/), where anonymous clients and wills may never publish.
func IsReserved(t string) bool {
	for _, root := range []string{CityRoot, TwinRoot, SecurityRoot} {
		if t == root || strings.HasPrefix(t, root+"/") {
			return true
		}
	}
	return false
}
