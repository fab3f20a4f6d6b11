package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/counter"
	"github.com/signet-city/signet/firmware-sim/image"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// FromImage boots a device from its image: key, counter store, model.
func FromImage(im *image.Image, seed uint64, stats *runtime.Stats) (*runtime.Device, error) {
	k := im.PrivateKey()
	if k == nil {
		return nil, fmt.Errorf("image of %s was not validated", im.Device)
	}
	ctr, err := counter.Open(im.CounterPath, 0)
	if err != nil {
		return nil, err
	}
	m, err := model.New(im.Kind, im.Params, seed)
	if err != nil {
		return nil, err
	}
	kid := k.KID
	if len(kid) == 0 {
		kid = signing.KeyID(k.Public)
	}
	d := &runtime.Device{ID: im.Device, Zone: im.Zone, Key: k.Private, KID: kid, Counter: ctr, Model: m, Broker: im.Broker, Stats: stats, LeaseBlock: im.LeaseBlock, RootCAs: im.RootCAs()}
	if auths := im.AuthorityKeys(); len(auths) > 0 {
		// Only a device flashed with an authority's key takes commands.
		d.Commands = &command.Verifier{Zone: im.Zone, Device: im.Device, Kind: im.Kind, Params: im.Params, Authorities: auths, Boot: time.Now()}
	}
	return d, nil
}

// LoadImages loads every *.img in dir, sorted by name.
func LoadImages(dir string) ([]*image.Image, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("images %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".img" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("images %s: no *.img files (flash some with signet flash)", dir)
	}
	out := make([]*image.Image, 0, len(names))
	for _, n := range names {
		im, err := image.Load(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}
