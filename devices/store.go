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
	// change that would lower a key's high-water mark fails the whole call
	// with an error wrapping ErrConflict: two writers on one store.
	Commit(ctx context.Context, changes []Change) error
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
	KID       []byte
	HighWater uint64 // highest accepted counter (SPEC §6)
	// State is replay.Window.MarshalBinary, or empty when only the mark
	// was stored; such a window resumes refusing every counter up to the
	// mark (replay.Resume).
	State []byte
}

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

// Change is what one accepted message (or one batch of rejection counters)
// changes in the store. A nil Window or Twin leaves that part as it is.
type Change struct {
	KID       []byte // key whose window changed; nil for a twin-only change
	HighWater uint64 // the window's highest accepted counter after the change
	// Window is replay.Window.MarshalBinary after the change, or nil to
	// store the high-water mark alone (what each message writes: 8 bytes
	// rather than the window's 265).
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
