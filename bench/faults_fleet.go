package bench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/runtime"
)

// FaultZone is the zone of the fault and soak harnesses' fleets.
const FaultZone = "faults"

// The users the harness's broker knows: an admin who reads twins over the
// HTTP API, and a gateway for the zone, the hostile client that replays
// captured messages (a gateway may publish for every device of its zone, so
// its replays reach the counter check rather than stopping at the
// impersonation check).
const (
	faultAdmin   = "faults-admin"
	faultReplay  = "faults-replayer"
	faultStoreDB = "signet.db"
)

// faultSite is a flashed fleet, its store and the broker's configuration.
type faultSite struct {
	dir, store, config string
	devices            []*faultDevice
	// hostile are extra devices of the fleet, with their counter files,
	// that the soak's attacker logs in as (compromised devices).
	hostile        []*runtime.Device
	adminToken     string // bearer token of faultAdmin
	replayPassword string // MQTT password of faultReplay
}

// flashSite makes a new store in dir, flashes n streetlights into it with
// firmware-sim/fleet (fresh Ed25519 keys, enrolled in the registry) and
// writes the broker's configuration beside it.
func flashSite(ctx context.Context, dir string, n int) (*faultSite, error) {
	return flashSiteWith(ctx, dir, n, 0)
}

// flashSiteWith also flashes hostile compromised devices.
func flashSiteWith(ctx context.Context, dir string, n, hostile int) (*faultSite, error) {
	if n <= 0 {
		return nil, fmt.Errorf("faults: --devices %d must be positive", n)
	}
	s := &faultSite{dir: dir, store: filepath.Join(dir, faultStoreDB), config: filepath.Join(dir, "signet.yaml")}
	store, err := boltstore.Open(s.store, boltstore.Options{})
	if err != nil {
		return nil, err
	}
	specs := make([]fleet.Spec, n+hostile)
	for i := range specs {
		specs[i] = fleet.Spec{ID: fmt.Sprintf("sl-%03d", i+1), Zone: FaultZone, Kind: "streetlight"}
		if i >= n {
			specs[i].ID = fmt.Sprintf("hostile-%d", i-n+1)
		}
	}
	built, err := fleet.Build(ctx, devices.NewRegistry(store, nil), specs, dir, "", &runtime.Stats{})
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("faults: flashing the fleet: %w", err)
	}
	for _, d := range built[:n] {
		s.devices = append(s.devices, &faultDevice{id: d.ID, zone: d.Zone, key: d.Key, kid: d.KID})
	}
	s.hostile = built[n:]
	s.adminToken, s.replayPassword = rand.Text(), rand.Text()
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

// writeConfig writes the broker's YAML: loopback listeners on free ports
// (the startup line names them), strict durability, no audit log.
func (s *faultSite) writeConfig() error {
	hash, err := broker.HashPassword(s.replayPassword)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(s.adminToken))
	yaml := fmt.Sprintf(`store: %q
durability: strict
mqtt: 127.0.0.1:0
http: 127.0.0.1:0
audit: ""
users:
  - name: %s
    role: admin
    token_sha256: %s
  - name: %s
    role: gateway
    zones: [%s]
    password_hash: %q
`, s.store, faultAdmin, hex.EncodeToString(sum[:]), faultReplay, FaultZone, hash)
	return os.WriteFile(s.config, []byte(yaml), 0o600)
}
