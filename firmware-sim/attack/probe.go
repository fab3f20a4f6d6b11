package attack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/signet-city/signet/firmware-sim/runtime"
)

// A Probe is a hostile client that attacks the edges around the per-message
// checks: the MQTT packets and sessions themselves (oversized or slow
// CONNECTs, unknown topic aliases, squatted client ids, shared
// subscription groups), the HTTP face (cross-origin enrolment), and
// resources a valid device can spend (twin inflation, event floods). Where
// Kind builds one hostile message, a Probe runs a whole hostile exchange and
// tells what the broker did with it.
type Probe struct {
	// Name is how `signet attack --probe` spells it.
	Name string
	// Doc is one line for --help: what the hostile client sends.
	Doc string
	// Run attacks target once and reports whether the broker refused it.
	// err is only for a probe that could not run (broker down, bad
	// target), never for a broker that let the attack through.
	Run func(ctx context.Context, target Target) (Outcome, error)
}

// Target is what a probe may use: the broker's addresses and, for probes
// that need valid credentials, a compromised device (its real key and
// counter store) and another device of its zone.
type Target struct {
	MQTT   string          // tcp://host:port
	HTTP   string          // http://host:port ("" if the broker serves no HTTP)
	Device *runtime.Device // a compromised device; nil for probes that need none
	Other  *runtime.Device // another device of Device's zone; may be nil
	// Patience is how long a probe waits for the broker to answer or to
	// close a connection it should close (0: 30 s); a broker configured
	// with a short connect deadline lets tests use a short one.
	Patience time.Duration
}

// Outcome is what the broker did with one probe.
type Outcome struct {
	Refused bool   // the broker refused the attack (or bounded it, for floods)
	Reason  string // how it refused: an MQTT reason code, an HTTP status, a SPEC reason
	Sent    int    // packets, messages or requests the probe sent
	Detail  string // one line on what was seen
}

// ErrNoTarget is what a probe's Run wraps when Target lacks a part it needs
// (an HTTP address, a device): the probe did not run, which says nothing
// about the broker.
var ErrNoTarget = errors.New("the target lacks what this probe needs")

// Probes lists every probe, in the order `signet attack --probe all` runs them.
func Probes() []Probe {
	return []Probe{
		probeEmptyTopicAlias, probeOversizedConnect, probeSlowConnect, probeClientIDSquat,
		probeSharedGroup, probeTwinInflation, probeEventFlood, probeCrossOriginEnrol,
	}
}

// ParseProbes returns the probes named in a comma-separated list ("all" for
// every one).
func ParseProbes(s string) ([]Probe, error) {
	all := Probes()
	if s == "all" {
		return all, nil
	}
	var out []Probe
	for _, name := range strings.Split(s, ",") {
		found := false
		for _, p := range all {
			if p.Name == strings.TrimSpace(name) {
				out, found = append(out, p), true
				break
			}
		}
		if !found {
			names := make([]string, 0, len(all))
			for _, p := range all {
				names = append(names, p.Name)
			}
			return nil, fmt.Errorf("probe %q is not one of %s", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}
