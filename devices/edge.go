package devices

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// Durability says when Commit returns.
type Durability int

const (
	// Strict, the default: Commit returns only after the counter's lease
	// and any reported or desired change are durable (fsync'd). A broker
	// killed at any instant and restarted never accepts a message it
	// acknowledged, and never loses acknowledged twin state.
	Strict Durability = iota
	// Relaxed: Commit returns as soon as a reported or desired change is
	// applied in memory and queued for the next transaction, which saves
	// the fsync wait (a few ms) per state message. The counter's lease is
	// durable before the message takes effect in both modes, so a replay is
	// never accepted, not even after a kill -9. What Relaxed risks is the
	// last few ms before a power loss or kill -9: state acknowledged but
	// not yet written is lost. When the disk falls more than a few batches
	// behind, Relaxed callers wait for it too, so memory stays bounded.
	Relaxed
)

// String returns "strict" or "relaxed", as ParseDurability reads them.
func (d Durability) String() string {
	if d == Relaxed {
		return "relaxed"
	}
	return "strict"
}

// ParseDurability parses "strict" or "relaxed".
func ParseDurability(s string) (Durability, error) {
	switch s {
	case "strict":
		return Strict, nil
	case "relaxed":
		return Relaxed, nil
	}
	return Strict, fmt.Errorf("durability %q: want strict or relaxed", s)
}

// Options tune an Edge. The zero value is the production default.
type Options struct {
	Durability Durability
	// MaxBatch caps the changes in one store transaction (0: 256). A batch is
	// whatever queued while the previous transaction was being written: an
	// idle edge commits a lone message at once, a busy one amortises one
	// fsync over up to MaxBatch messages.
	MaxBatch int
	// FlushInterval is how often twins whose only change is their security
	// counters (rejections, and accepted telemetry and events) are written
	// (0: 1 s). Those counters are never worth an fsync of their own: a
	// crash loses at most this interval of them, never a high-water mark
	// nor a reported or desired change.
	FlushInterval time.Duration
	// CommitDelay is how long the committer, having just written a
	// transaction while more changes queued, waits for others to join them
	// before it writes the next (0: DefaultCommitDelay; negative: never).
	// It never delays a change that finds the committer idle, and it stops
	// waiting once 32 changes are queued.
	CommitDelay time.Duration
	// LeaseBlock is B, how many counters one lease extension adds per key
	// (0: DefaultLeaseBlock). The edge extends a key's lease when fewer
	// than B/2 of it are left, ahead of use; after a crash it refuses every
	// counter up to the lease, so a device skips at least 2·B on reconnect
	// (docs/counters.md).
	LeaseBlock uint64
	// WatchBuffer is each watcher's channel capacity (0: 256).
	WatchBuffer int
	// MaxTwinBytes bounds a twin document as encoded (0:
	// twin.DefaultMaxBytes): a state message or command that would make it
	// larger is refused and the twin stays as it was.
	MaxTwinBytes int
	// MaxPatchDepth bounds the nesting of a state or desired patch (0:
	// strictjson.DefaultMaxDepth).
	MaxPatchDepth int
	// Now is the clock for key expiry (nil: time.Now).
	Now func() time.Time
	// Logger receives store failures (nil: slog.Default()).
	Logger *slog.Logger
}

func (o *Options) fill() {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.CommitDelay == 0 {
		o.CommitDelay = DefaultCommitDelay
	}
	if o.LeaseBlock == 0 {
		o.LeaseBlock = DefaultLeaseBlock
	}
	if o.WatchBuffer <= 0 {
		o.WatchBuffer = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Errors of a running Edge.
var (
	// ErrClosed: the Edge was closed.
	ErrClosed = errors.New("devices: edge closed")
	// ErrStoreFailed: a store transaction failed; the edge refuses every
	// further commit, because memory is now ahead of the disk (fail-stop).
	ErrStoreFailed = errors.New("devices: store failed")
)

// Edge is the state the broker checks and changes on every message, loaded
// into memory from a Store: keys by kid, one replay window per key, one twin
// per device. Lookups take no lock and allocate nothing; Commit serialises
// per key and per device, and writes through a group committer.
type Edge struct {
	store Store
	opt   Options
	index atomic.Pointer[index]
	// swap serialises the writers of index (Refresh, AddDevice), so that
	// neither replaces an index the other built a moment before and loses
	// its change. Readers never take it.
	swap  sync.Mutex
	com   *committer
	watch *watchers
}

// index is an immutable view of the registry; Refresh and AddDevice swap in
// a new one that shares the replay and twin state of keys and devices it
// keeps.
type index struct {
	keys        map[string]*KeyRecord // device and operator keys, by kid
	authorities map[string]*KeyRecord // control-authority keys, by kid
	devices     map[string]*edgeDevice
	zones       map[string][]*edgeDevice // sorted by id
}

// KeyRecord is what the edge knows about one key. Treat it as read-only.
type KeyRecord struct {
	KID      []byte
	Role     OwnerRole         // RoleDevice, RoleOperator or RoleAuthority
	Owner    string            // device, operator or authority id
	Zone     string            // the device's zone (devices only)
	Kind     string            // the device's kind (devices only)
	Scope    *Scope            // the operator's scope (operators only)
	Alg      signing.Alg       // pinned algorithm (SPEC §4 step 6)
	Public   signing.PublicKey // decoded once, at load
	Status   KeyStatus
	NotAfter time.Time // zero: no end

	state  *keyState   // replay window, shared across Refresh
	device *edgeDevice // the owning device (devices only)
	// kidText is FormatKeyID(KID), made once at load: the twin's field
	// meta of every accepted message names it, and hex-encoding it per
	// message was 3% of the strict broker's CPU (bench broker --profile).
	kidText string
}

// Usable reports whether the key may sign at now: active and not past
// NotAfter. Otherwise the message is refused as revoked (SPEC §4 step 4).
func (k *KeyRecord) Usable(now time.Time) bool {
	return k.Status == StatusActive && (k.NotAfter.IsZero() || now.Before(k.NotAfter))
}

// keyState is the mutable part of a key: its replay window and its lease.
type keyState struct {
	mu     sync.Mutex
	window replay.Window
	lease  leaseState
	// compact: the store's record of the key lacks the window as it is
	// now (its bound alone, or an older window); Close writes the whole
	// window (saveWindows).
	compact bool
}

// edgeDevice is the mutable part of a device: its twin, copy-on-write, so
// that a *twin.Document handed out is never changed afterwards.
type edgeDevice struct {
	mu      sync.Mutex
	id      string
	zone    string
	profile kinds.Profile
	params  []byte
	twin    *twin.Document
}

// Open loads the whole state from s and starts the group committer. The
// caller keeps ownership of s and closes it after Edge.Close.
func Open(ctx context.Context, s Store, opt Options) (*Edge, error) {
	if err := ValidLeaseBlock(opt.LeaseBlock); err != nil {
		return nil, err
	}
	opt.fill()
	snap, err := s.Load(ctx)
	if err != nil {
		return nil, err
	}
	e := &Edge{store: s, opt: opt, watch: newWatchers(opt.WatchBuffer)}
	idx, err := buildIndex(snap, nil)
	if err != nil {
		return nil, err
	}
	e.index.Store(idx)
	e.com = startCommitter(e)
	return e, nil
}

// Refresh reloads the registry from the store (after a Registry change in
// this process), keeping every window and twin in memory as it is.
func (e *Edge) Refresh(ctx context.Context) error {
	e.swap.Lock()
	defer e.swap.Unlock()
	snap, err := e.store.Load(ctx)
	if err != nil {
		return err
	}
	idx, err := buildIndex(snap, e.index.Load())
	if err != nil {
		return err
	}
	e.index.Store(idx)
	return nil
}

// buildIndex decodes a snapshot. State for kids and devices in old is reused,
// so that a refresh never rewinds a window held only in memory.
func buildIndex(snap *Snapshot, old *index) (*index, error) {
	idx := &index{
		keys:        make(map[string]*KeyRecord, len(snap.Devices)),
		authorities: map[string]*KeyRecord{},
		devices:     make(map[string]*edgeDevice, len(snap.Devices)),
		zones:       map[string][]*edgeDevice{},
	}
	windows := make(map[string]Window, len(snap.Windows))
	for _, w := range snap.Windows {
		windows[string(w.KID)] = w
	}
	twins := make(map[string][]byte, len(snap.Twins))
	for _, t := range snap.Twins {
		twins[t.Device] = t.Doc
	}
	strs := interner{}
	for _, d := range snap.Devices {
		dev, err := loadDevice(d, twins[d.ID], old, strs)
		if err != nil {
			return nil, err
		}
		idx.devices[dev.id] = dev
		idx.zones[dev.zone] = append(idx.zones[dev.zone], dev)
		for _, k := range d.Keys {
			rec, err := loadKey(k, RoleDevice, dev.id, windows, old)
			if err != nil {
				return nil, fmt.Errorf("device %s: %w", d.ID, err)
			}
			rec.Zone, rec.Kind, rec.device = dev.zone, strs.get(d.Kind), dev
			idx.keys[string(rec.KID)] = rec
		}
	}
	for _, o := range snap.Operators {
		scope := o.Scope
		for _, k := range o.Keys {
			rec, err := loadKey(k, RoleOperator, o.ID, windows, old)
			if err != nil {
				return nil, fmt.Errorf("operator %s: %w", o.ID, err)
			}
			rec.Scope = &scope
			idx.keys[string(rec.KID)] = rec
		}
	}
	for _, a := range snap.Authorities {
		for _, k := range a.Keys {
			rec, err := loadKey(k, RoleAuthority, a.ID, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("authority %s: %w", a.ID, err)
			}
			idx.authorities[string(rec.KID)] = rec
		}
	}
	for _, z := range idx.zones {
		sort.Slice(z, func(i, j int) bool { return z[i].id < z[j].id })
	}
	return idx, nil
}

func loadDevice(d Device, doc []byte, old *index, strs interner) (*edgeDevice, error) {
	if old != nil {
		if dev, ok := old.devices[d.ID]; ok {
			return dev, nil
		}
	}
	p, ok := kinds.Lookup(d.Kind)
	if !ok {
		return nil, fmt.Errorf("device %s: unknown kind %q", d.ID, d.Kind)
	}
	dev := &edgeDevice{id: d.ID, zone: strs.get(d.Zone), profile: p, params: d.Params}
	if doc == nil {
		dev.twin = twin.New(d.ID, dev.zone, strs.get(d.Kind))
		return dev, nil
	}
	t, err := twin.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("twin of device %s: %w", d.ID, err)
	}
	dev.twin = t
	return dev, nil
}

func loadKey(k Key, role OwnerRole, owner string, windows map[string]Window, old *index) (*KeyRecord, error) {
	pub, err := signing.NewPublicKey(k.Alg, k.Public)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", signing.FormatKeyID(k.KID), err)
	}
	rec := &KeyRecord{
		KID: k.KID, Role: role, Owner: owner, Alg: k.Alg, Public: pub,
		Status: k.Status, NotAfter: k.NotAfter, kidText: signing.FormatKeyID(k.KID),
	}
	if role == RoleAuthority {
		return rec, nil
	}
	if old != nil {
		if prev, ok := old.keys[string(k.KID)]; ok {
			rec.state = prev.state
			return rec, nil
		}
	}
	rec.state = &keyState{}
	if w, ok := windows[string(k.KID)]; ok && len(w.State) == 0 {
		// Only the bound was stored (the edge stopped without Close): every
		// counter up to it counts as seen, since any of them may have been
		// accepted under the lease.
		rec.state.window = replay.Resume(w.HighWater)
		rec.state.lease.bound = w.HighWater
	} else if ok {
		if err := rec.state.window.UnmarshalBinary(w.State); err != nil {
			return nil, fmt.Errorf("key %s: replay window: %w", signing.FormatKeyID(k.KID), err)
		}
		if rec.state.window.Highest() > w.HighWater {
			return nil, fmt.Errorf("key %s: replay window says %d, above the counter bound %d: corrupt store",
				signing.FormatKeyID(k.KID), rec.state.window.Highest(), w.HighWater)
		}
		// A window saved at a clean stop resumes exactly, but the record
		// must become a bound before it accepts anything more.
		rec.state.lease = leaseState{bound: w.HighWater, exact: true}
	}
	return rec, nil
}

// interner shares one string per distinct zone and kind across devices, a
// few hundred bytes saved per device in a city of 10k (DESIGN.md targets).
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

// KeyByKID finds a device or operator key. It allocates nothing.
func (e *Edge) KeyByKID(kid []byte) (*KeyRecord, bool) {
	k, ok := e.index.Load().keys[string(kid)]
	return k, ok
}

// AuthorityKey finds a control-authority key, for checking operator
// endorsements (SPEC §5).
func (e *Edge) AuthorityKey(kid []byte) (*KeyRecord, bool) {
	k, ok := e.index.Load().authorities[string(kid)]
	return k, ok
}

// Twin returns the current twin document of a device. The document is a
// snapshot: it never changes after it is returned.
func (e *Edge) Twin(device string) (*twin.Document, bool) {
	d, ok := e.index.Load().devices[device]
	if !ok {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.twin, true
}

// Twins returns the twins of one zone, or of every zone when zone is "",
// ordered by zone and device id.
func (e *Edge) Twins(zone string) []*twin.Document {
	idx := e.index.Load()
	var zones []string
	if zone != "" {
		zones = []string{zone}
	} else {
		for z := range idx.zones {
			zones = append(zones, z)
		}
		sort.Strings(zones)
	}
	var out []*twin.Document
	for _, z := range zones {
		for _, d := range idx.zones[z] {
			d.mu.Lock()
			out = append(out, d.twin)
			d.mu.Unlock()
		}
	}
	return out
}

// CommitCounts reports the store transactions the group committer has
// written and the changes they carried (state changes, commands, lease
// extensions, counter windows, twins due): changes over transactions is how
// many share each transaction's fsyncs.
func (e *Edge) CommitCounts() (transactions, changes uint64) {
	return e.com.transactions.Load(), e.com.changes.Load()
}

// Close stops accepting commits, writes everything queued (including
// rejection counters) and closes every watcher's channel. It does not close
// the store.
func (e *Edge) Close(ctx context.Context) error {
	e.saveWindows()
	err := e.com.close(ctx)
	e.watch.closeAll()
	return err
}

// saveWindows queues the whole window of every key whose store record is
// its bound alone, beside that bound, so that after a clean stop a late
// message still inside the window is accepted; after a crash the bound
// alone refuses everything up to it, which is safe. Once a key's window is
// queued its record counts as exact: the key accepts nothing more without
// a lease write, which the closing edge refuses, so no counter accepted
// after the save can be accepted again after the restart. A key with an
// extension in flight is skipped: its record becomes the new bound.
func (e *Edge) saveWindows() {
	for _, k := range e.index.Load().keys {
		if k.state == nil {
			continue
		}
		k.state.mu.Lock()
		if k.state.compact && k.state.lease.ext == nil {
			if win, err := k.state.window.MarshalBinary(); err == nil {
				e.com.enqueue(entry{kid: k.KID, highWater: k.state.lease.bound, window: win})
				k.state.compact = false
				k.state.lease.exact = true
			}
		}
		k.state.mu.Unlock()
	}
}
