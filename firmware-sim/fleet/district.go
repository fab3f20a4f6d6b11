// Package fleet plans and enrolls groups of simulated devices: a district of
// intersections (a traffic signal and a loop detector each), streetlights
// and air-quality boxes, all with fresh keys.
package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/counter"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// Spec is one device of a plan.
type Spec struct {
	ID, Zone, Kind string
	Params         json.RawMessage
}

// District plans n intersections, n/2 streetlights and n/2 air-quality boxes
// in zone.
func District(zone string, n int) []Spec {
	var out []Spec
	for i := 1; i <= n; i++ {
		out = append(out,
			Spec{ID: fmt.Sprintf("tl-%02d", i), Zone: zone, Kind: "traffic-signal", Params: model.DefaultSignalPlan},
			Spec{ID: fmt.Sprintf("ld-%02d", i), Zone: zone, Kind: "loop-detector"})
	}
	for i := 1; i <= max(1, n/2); i++ {
		out = append(out,
			Spec{ID: fmt.Sprintf("sl-%02d", i), Zone: zone, Kind: "streetlight"},
			Spec{ID: fmt.Sprintf("aq-%02d", i), Zone: zone, Kind: "air-quality"})
	}
	return out
}

// Build gives every spec a fresh key, a counter file in dir and its model,
// enrolls the public keys in reg, and returns the devices ready to Run.
func Build(ctx context.Context, reg *devices.Registry, specs []Spec, dir, brokerURL string, stats *runtime.Stats) ([]*runtime.Device, error) {
	var out []*runtime.Device
	for i, s := range specs {
		key, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return nil, err
		}
		kid := signing.KeyID(key.Public())
		err = reg.Enroll(ctx, devices.Device{ID: s.ID, Zone: s.Zone, Kind: s.Kind, Params: s.Params, Keys: []devices.Key{{
			KID: kid, Alg: key.Alg(), Public: key.Public().Bytes(), Status: devices.StatusActive,
		}}})
		if err != nil {
			return nil, fmt.Errorf("enrolling %s: %w", s.ID, err)
		}
		ctr, err := counter.Open(filepath.Join(dir, s.ID+".ctr"), 0)
		if err != nil {
			return nil, err
		}
		m, err := model.New(s.Kind, s.Params, uint64(i+1))
		if err != nil {
			return nil, err
		}
		out = append(out, &runtime.Device{ID: s.ID, Zone: s.Zone, Key: key, KID: kid, Counter: ctr, Model: m, Broker: brokerURL, Stats: stats})
	}
	return out, nil
}
