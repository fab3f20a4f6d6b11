package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/signet-city/signet/bench"
	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/firmware-sim/attack"
	"github.com/signet-city/signet/firmware-sim/fleet"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// spawnZone is the zone of the district a spawned broker serves;
// spawnOtherZone a second zone, whose data the cross-zone scenario wants.
const (
	spawnZone      = "harbour"
	spawnOtherZone = "hill"
)

// The users a spawned broker knows: a viewer of the zone that counts the
// honest readings delivered, an auditor that counts security events, and
// an admin (HTTP bearer token) for the probes and /metrics.
const (
	spawnReader  = "attack-reader"
	spawnAuditor = "attack-auditor"
	spawnAdmin   = "attack-admin"
)

// spawned is a "signet serve" child on a fresh store, with everything a
// scenario run needs: the flashed images, the users' logins, and two
// devices whose first key the registry retired.
type spawned struct {
	dir, images     string
	child           *bench.ServeChild
	reader, auditor *login
	adminToken      string
	retired         map[attack.Kind]*retiredDevice
	commands        *commandKit
}

// retiredDevice is a device that logs in with its current key and holds
// one the registry no longer accepts.
type retiredDevice struct {
	login   *simrt.Device
	retired attack.RetiredKey
}

// spawnBroker flashes a district (2 intersections and 4 streetlights of
// zone harbour, 2 streetlights of zone hill) into a new store under a temp directory, adds two devices
// whose first key was revoked or rotated out, and starts binary as its broker.
func spawnBroker(ctx context.Context, binary string) (_ *spawned, err error) {
	dir, err := os.MkdirTemp("", "signet-attack-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir) // no broker started: nothing else to stop
		}
	}()
	s := &spawned{dir: dir, images: filepath.Join(dir, "images"), retired: map[attack.Kind]*retiredDevice{}}
	store := filepath.Join(dir, "signet.db")
	fleetFile := filepath.Join(dir, "city.yaml")
	city := fmt.Sprintf("broker: tcp://127.0.0.1:1\nzones:\n  - name: %s\n    intersections: 2\n    streetlights: 4\n  - name: %s\n    intersections: 0\n    streetlights: 2\n", spawnZone, spawnOtherZone)
	if err := os.WriteFile(fleetFile, []byte(city), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, binary, "flash", "--fleet", fleetFile, "--out", s.images, "--db", store, "--no-commands").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("spawn: flashing the district: %v: %s", err, out)
	}
	if err := s.retire(ctx, store); err != nil {
		return nil, err
	}
	config, err := s.writeConfig(store)
	if err != nil {
		return nil, err
	}
	if s.child, err = bench.StartServe(ctx, binary, config); err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	return s, nil
}

// retire enrols the devices of the revoked-key and expired-key scenarios:
// each is flashed, then rotated to a new key, and its first key is revoked
// (revoked-key) or ends at once (expired-key, a rotation with no grace).
func (s *spawned) retire(ctx context.Context, path string) error {
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	reg := devices.NewRegistry(store, nil)
	if s.commands, err = enrolOperator(ctx, reg); err != nil {
		return err
	}
	specs := []fleet.Spec{
		{ID: spawnZone + "-sl-revoked", Zone: spawnZone, Kind: "streetlight"},
		{ID: spawnZone + "-sl-expired", Zone: spawnZone, Kind: "streetlight"},
	}
	keys := filepath.Join(s.dir, "retired")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return err
	}
	built, err := fleet.Build(ctx, reg, specs, keys, "", &simrt.Stats{})
	if err != nil {
		return fmt.Errorf("spawn: flashing the retired-key devices: %w", err)
	}
	for i, k := range []attack.Kind{attack.KindRevokedKey, attack.KindExpiredKey} {
		d := built[i]
		old := attack.RetiredKey{Key: d.Key, KID: d.KID}
		next, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return err
		}
		kid := signing.KeyID(next.Public())
		grace := 24 * time.Hour
		if k == attack.KindExpiredKey {
			grace = 0
		}
		if _, err := reg.Rotate(ctx, d.ID, devices.Key{KID: kid, Alg: next.Alg(), Public: next.Public().Bytes()}, grace); err != nil {
			return fmt.Errorf("spawn: rotating %s: %w", d.ID, err)
		}
		if k == attack.KindRevokedKey {
			if _, err := reg.RevokeKey(ctx, old.KID); err != nil {
				return fmt.Errorf("spawn: revoking the first key of %s: %w", d.ID, err)
			}
		}
		d.Key, d.KID = next, kid
		s.retired[k] = &retiredDevice{login: d, retired: old}
	}
	return nil
}

// writeConfig writes the broker's YAML: loopback listeners on free ports
// (the startup line names them), the three users, no audit log file.
func (s *spawned) writeConfig(store string) (string, error) {
	s.reader = &login{spawnReader, rand.Text()}
	s.auditor = &login{spawnAuditor, rand.Text()}
	s.adminToken = rand.Text()
	rh, err := broker.HashPassword(s.reader.password)
	if err != nil {
		return "", err
	}
	ah, err := broker.HashPassword(s.auditor.password)
	if err != nil {
		return "", err
	}
	oh, err := broker.HashPassword(s.commands.password)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(s.adminToken))
	yaml := fmt.Sprintf(`store: %q
mqtt: 127.0.0.1:0
http: 127.0.0.1:0
audit: ""
users:
  - name: %s
    role: viewer
    zones: [%s, %s]
    password_hash: %q
  - name: %s
    role: auditor
    password_hash: %q
  - name: %s
    role: admin
    token_sha256: %s
  - name: %s
    role: operator
    zones: [%s]
    password_hash: %q
`, store, spawnReader, spawnZone, spawnOtherZone, rh, spawnAuditor, ah, spawnAdmin, hex.EncodeToString(sum[:]), spawnOperator, spawnZone, oh)
	path := filepath.Join(s.dir, "signet.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

// stop shuts the broker down and removes the temp directory.
func (s *spawned) stop() error {
	var err error
	if s.child != nil {
		err = s.child.Stop()
	}
	os.RemoveAll(s.dir)
	return err
}
