package devices

import (
	"fmt"
	"sort"

	"github.com/signet-city/signet/signing"
)

// AddDevice loads a device that was just enrolled in the store (Registry.
// Enroll) into the running edge, so that the broker accepts its messages at
// once, without reloading the whole store as Refresh does.
//
// The device must be new: no window or twin of it is stored, so its keys
// start with empty replay windows and its twin at version 0. The new index
// is swapped in atomically: a reader sees the device with all its keys, or
// not at all. A device id or kid the edge already knows is an error that
// wraps ErrConflict (or a *DuplicateKIDError) and changes nothing.
func (e *Edge) AddDevice(d Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	e.swap.Lock()
	defer e.swap.Unlock()
	old := e.index.Load()
	if _, ok := old.devices[d.ID]; ok {
		return &ConflictError{Msg: fmt.Sprintf("device %s: already loaded in the edge", d.ID)}
	}
	strs := interner{}
	if zs := old.zones[d.Zone]; len(zs) > 0 {
		strs.get(zs[0].zone) // share the zone string with the zone's devices
	}
	dev, err := loadDevice(d, nil, nil, strs)
	if err != nil {
		return err
	}
	recs := make([]*KeyRecord, 0, len(d.Keys))
	for _, k := range d.Keys {
		if holder, ok := old.keys[string(k.KID)]; ok {
			return &DuplicateKIDError{KID: k.KID, Owner: Owner{Role: holder.Role, ID: holder.Owner}}
		}
		if holder, ok := old.authorities[string(k.KID)]; ok {
			return &DuplicateKIDError{KID: k.KID, Owner: Owner{Role: holder.Role, ID: holder.Owner}}
		}
		rec, err := loadKey(k, RoleDevice, dev.id, nil, nil)
		if err != nil {
			return fmt.Errorf("device %s: %w", d.ID, err)
		}
		rec.Zone, rec.Kind, rec.device = dev.zone, dev.twin.Kind, dev
		recs = append(recs, rec)
	}

	// Copy on write: the maps of old stay as they are for readers holding
	// it; only the new device's zone gets a new slice.
	idx := &index{
		keys:        make(map[string]*KeyRecord, len(old.keys)+len(recs)),
		authorities: old.authorities,
		devices:     make(map[string]*edgeDevice, len(old.devices)+1),
		zones:       make(map[string][]*edgeDevice, len(old.zones)+1),
	}
	for kid, rec := range old.keys {
		idx.keys[kid] = rec
	}
	for _, rec := range recs {
		idx.keys[string(rec.KID)] = rec
	}
	for id, dv := range old.devices {
		idx.devices[id] = dv
	}
	idx.devices[dev.id] = dev
	for z, list := range old.zones {
		idx.zones[z] = list
	}
	list := old.zones[dev.zone]
	at := sort.Search(len(list), func(i int) bool { return list[i].id > dev.id })
	zone := make([]*edgeDevice, 0, len(list)+1)
	zone = append(append(append(zone, list[:at]...), dev), list[at:]...)
	idx.zones[dev.zone] = zone
	e.index.Store(idx)
	e.opt.Logger.Info("device loaded into the edge", "device", dev.id, "zone", dev.zone, "kid", signing.FormatKeyID(d.Keys[0].KID))
	return nil
}
