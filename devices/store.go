package devices

import (
	"context"
	"errors"
	"fmt"

	"github.com/signet-city/signet/signing"
)

// Store keeps the registry, the replay windows and the twin documents. It is
// written for two implementations: one bbolt file on the edge box
// (devices/boltstore) and, later, a NATS JetStream KV shared by several edge
// brokers. So it speaks in records and versions, never in transactions a
// caller holds open: every write is one declarative call that the store
// applies atomically, and registry writes are compare-and-set on Revision.
//
// Implementations are safe for concurrent use.
type Store interface {
	// Load reads everything, for an Edge starting up or a full listing.
	Load(ctx context.Context) (*Snapshot, error)
	// Device returns one device, or an error wrapping ErrNotFound.
	Device(ctx context.Context, id string) (Device, error)
	// Operator returns one operator, or an error wrapping ErrNotFound.
	Operator(ctx context.Context, id string) (Operator, error)
	// Authority returns one control authority, or an error wrapping ErrNotFound.
	Authority(ctx context.Context, id string) (Authority, error)
	// KeyOwner says who holds kid, or returns an error wrapping ErrNotFound.
	KeyOwner(ctx context.Context, kid []byte) (Owner, error)
	// Write applies a registry batch in one transaction: all of it or none.
	// Each record is written only if its Revision equals the stored one
	// (0: only if absent), else the error wraps ErrConflict. A kid that
	// another record already holds fails the batch with *DuplicateKIDError.
	Write(ctx context.Context, b Batch) error
	// Commit makes a group of window and twin changes durable in one
	// transaction: when it returns nil, all of them survive a crash. A
	// change that would lower a key's stored bound fails the whole call
	// with an error wrapping ErrConflict: two writers on one store.
	Commit(ctx context.Context, changes []Change) error
	// ExtendLeases takes counter leases (docs/counters.md), each by
	// compare-and-set on its key's stored bound: an extension is applied
	// only if the bound stored now is its From (0: no record), and then the
	// key's record becomes the bound To alone. changes, if any, are written
	// first, as Commit writes them, so that one round of the group
	// committer costs one transaction. Every applied extension and every
	// change is durable when the call returns. The result holds one entry
	// per extension: nil, or a *LeaseConflictError with the bound found
	// instead, which the caller must honour. An error for the whole call
	// means none of it may be counted on, except an error made only of
	// *TwinConflictError beside a full result: the extensions stand, and
	// only those twins were not written (edge_adopt.go).
	ExtendLeases(ctx context.Context, leases []LeaseExtension, changes []Change) ([]error, error)
	// Close releases the store.
	Close() error
}

// Snapshot is the whole content of a store.
type Snapshot struct {
	Devices     []Device    // ordered by id
	Operators   []Operator  // ordered by id
	Authorities []Authority // ordered by id
	Windows     []Window    // ordered by kid
	Twins       []Twin      // ordered by device id
}

// Window is the stored replay state of one key.
type Window struct {
	KID []byte
	// HighWater is the key's stored bound: the highest counter the key's
	// lease ever reached, so after a crash every counter at or below it is
	// refused. A store written before leases existed holds the highest
	// accepted counter here, which is the same floor.
	HighWater uint64
	// State is replay.Window.MarshalBinary (its highest counter at or below
	// HighWater), saved at a clean stop, or empty when only the bound was
	// stored; such a window resumes refusing every counter up to the bound
	// (replay.Resume).
	State []byte
}

// LeaseExtension asks the store to move one key's stored bound from From
// to To (From < To), so that the edge may accept counters up to To.
type LeaseExtension struct {
	KID      []byte
	From, To uint64
}

// LeaseConflictError is a lease extension refused because the stored bound
// was not its From: another writer took a lease in between. It matches
// ErrConflict under errors.Is.
type LeaseConflictError struct {
	KID    []byte
	From   uint64 // the bound the caller expected
	Stored uint64 // the bound found instead
}

// Error names the key and both bounds.
func (e *LeaseConflictError) Error() string {
	return fmt.Sprintf("kid %s: lease bound is %d, not %d: another writer took a lease", signing.FormatKeyID(e.KID), e.Stored, e.From)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *LeaseConflictError) Is(target error) bool { return target == ErrConflict }

// Twin is the stored twin document of one device.
type Twin struct {
	Device string
	Doc    []byte // JSON, SPEC §7
}

// Batch is a registry write. Records with Revision 0 are created, the others
// replaced; Changes lets an import carry high-water marks in the same
// transaction.
type Batch struct {
	Devices     []Device
	Operators   []Operator
	Authorities []Authority
	Changes     []Change
}

// Change is what one accepted message (or one batch of rejection counters,
// or a clean stop, or an import) changes in the store. A nil Window or Twin
// leaves that part as it is.
type Change struct {
	KID       []byte // key whose record changes; nil for a twin-only change
	HighWater uint64 // the key's bound, as Window.HighWater
	// Window is replay.Window.MarshalBinary, written at a clean stop, or
	// nil to store the bound alone.
	Window []byte
	Device string // device whose twin changed; "" for a window-only change
	Twin   []byte // the whole twin document after the change, JSON
}

// OwnerRole is what kind of record holds a key.
type OwnerRole string

// Key owner roles.
const (
	RoleDevice    OwnerRole = "device"
	RoleOperator  OwnerRole = "operator"
	RoleAuthority OwnerRole = "authority"
)

// Owner names the record that holds a key.
type Owner struct {
	Role OwnerRole
	ID   string
}

// String returns e.g. "device sl-1".
func (o Owner) String() string { return string(o.Role) + " " + o.ID }

// Store errors. Test with errors.Is.
var (
	// ErrNotFound: no record with that id or kid.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the stored record changed since it was read, or a create
	// met an existing record, or a high-water mark would go down.
	ErrConflict = errors.New("conflict")
)

// ConflictError is a store conflict with a sentence for people; it matches
// ErrConflict under errors.Is.
type ConflictError struct{ Msg string }

// Error returns the sentence.
func (e *ConflictError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// DuplicateKIDError is returned when a kid is already held by another record.
// Kids are unique across devices, operators and authorities, because the
// broker finds the signer of a message by kid alone (SPEC §4 step 4).
type DuplicateKIDError struct {
	KID   []byte
	Owner Owner // who already holds it
}

// Error names the kid and its holder.
func (e *DuplicateKIDError) Error() string {
	return fmt.Sprintf("duplicate kid %s: already held by %s", signing.FormatKeyID(e.KID), e.Owner)
}
