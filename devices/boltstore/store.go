// Package boltstore is the embedded devices.Store: one bbolt file on the edge
// box, ACID, one fsync per transaction, which is why devices.Edge groups many
// messages into one Commit.
//
// Layout (schema 1): buckets "devices", "operators", "authorities" (id ->
// record), "keys-by-kid" (kid -> owner), "windows" (kid -> 8-byte big-endian
// counter bound, the key's lease, followed by the replay window when it was
// saved whole at a clean stop; stores written before leases hold the
// highest accepted counter there, which reads as the same floor),
// "twins" (device id -> JSON
// document) and "meta" ("schema" -> "1").
package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/signet-city/signet/devices"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the layout this package reads and writes.
const SchemaVersion = "1"

// DefaultLockTimeout is how long Open waits for another process to release
// the file before it gives up: long enough for a CLI command to finish, short
// enough that a second broker fails fast instead of hanging.
const DefaultLockTimeout = time.Second

var (
	bucketDevices     = []byte("devices")
	bucketOperators   = []byte("operators")
	bucketAuthorities = []byte("authorities")
	bucketKIDs        = []byte("keys-by-kid")
	bucketWindows     = []byte("windows")
	bucketTwins       = []byte("twins")
	bucketMeta        = []byte("meta")
	keySchema         = []byte("schema")

	allBuckets = [][]byte{bucketDevices, bucketOperators, bucketAuthorities, bucketKIDs, bucketWindows, bucketTwins, bucketMeta}
)

// ErrLocked is wrapped by Open's error when another process holds the file.
var ErrLocked = errors.New("locked by another process")

// Options tune Open.
type Options struct {
	// ReadOnly opens an existing store for reading, sharing it with other
	// readers; it never creates a file.
	ReadOnly bool
	// LockTimeout bounds the wait for another process's lock
	// (0: DefaultLockTimeout).
	LockTimeout time.Duration
}

// Store is a devices.Store in one bbolt file.
type Store struct {
	db   *bolt.DB
	path string
}

var _ devices.Store = (*Store)(nil)

// Open opens (or, unless read-only, creates) the store at path. Every error
// names the path and says what to do: missing file, locked by another
// process, corrupt or truncated file, or a schema this version does not
// know. A file that is refused is never written to.
func Open(path string, opt Options) (*Store, error) {
	if opt.LockTimeout <= 0 {
		opt.LockTimeout = DefaultLockTimeout
	}
	if opt.ReadOnly {
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("store %s: no such file (enrol a device first, or pass --db)", path)
		case err != nil:
			return nil, fmt.Errorf("store %s: %w", path, err)
		case fi.Size() == 0:
			// bbolt would try to initialise it, which read-only cannot.
			return nil, fmt.Errorf("store %s: empty file, not a signet store", path)
		}
	}
	if err := preflight(path); err != nil {
		return nil, err
	}
	var db *bolt.DB
	err := guard(path, func() (err error) {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.LockTimeout, ReadOnly: opt.ReadOnly})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return nil, err
		}
		return nil, openError(path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.checkSchema(opt.ReadOnly); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store %s: %w (is signet serve running on it?); stop it or use another --db", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("store %s: corrupt or not a signet store (%v); restore it from a backup or an export", path, err)
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("store %s: no such file or directory", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("store %s: permission denied", path)
	}
	return fmt.Errorf("store %s: cannot open: %v (is it a signet store?)", path, err)
}

// checkSchema creates the buckets of a new store, and refuses a file that is
// a bbolt database of something else or of another schema version.
func (s *Store) checkSchema(readOnly bool) error {
	check := func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("store %s: not a signet store (no meta bucket)", s.path)
		}
		if v := string(meta.Get(keySchema)); v != SchemaVersion {
			return fmt.Errorf("store %s: schema version %q, this signet reads %q; use the signet release that wrote it to export, then import", s.path, v, SchemaVersion)
		}
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("store %s: corrupt: bucket %q missing", s.path, b)
			}
		}
		return nil
	}
	if readOnly {
		return guard(s.path, func() error { return s.db.View(check) })
	}
	return guard(s.path, func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			if isEmpty(tx) {
				for _, b := range allBuckets {
					if _, err := tx.CreateBucket(b); err != nil {
						return fmt.Errorf("store %s: creating bucket %q: %w", s.path, b, err)
					}
				}
				return tx.Bucket(bucketMeta).Put(keySchema, []byte(SchemaVersion))
			}
			return check(tx)
		})
	})
}

func isEmpty(tx *bolt.Tx) bool {
	k, _ := tx.Cursor().First()
	return k == nil
}

// Path is the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close releases the file and its lock.
func (s *Store) Close() error { return s.db.Close() }

// update runs fn in a write transaction, honouring ctx before it starts: a
// transaction that has begun is never abandoned halfway.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return guard(s.path, func() error { return s.db.Update(fn) })
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return guard(s.path, func() error { return s.db.View(fn) })
}
