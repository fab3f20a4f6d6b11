package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk meta page (go.etcd.io/bbolt internal/common: Page, Meta),
// in the machine's byte order. A page starts with a 16-byte header; the meta
// follows it: magic, version, page size, flags, root bucket (16 bytes),
// freelist page id, high-water page id, txid, then an FNV-64a checksum of
// everything before it.
const (
	boltPageHeader   = 16
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaPgidOff  = 40 // offsets inside the meta
	boltMetaSumOff   = 56
	boltMetaSize     = 64
	boltMetaPageSize = 8
)

// errTruncated is wrapped by Open's error for a file shorter than its own
// meta page says it is.
var errTruncated = errors.New("truncated")

// preflight reads the two meta pages of an existing, non-empty file with
// plain reads, never through bbolt's memory map. bbolt trusts the meta's
// high-water page id and maps the file: a file cut short (a copy that did
// not finish, a full disk) then faults with SIGBUS on the first read past
// its end, which kills the process with no word about the file. So a file
// shorter than its newest valid meta page says is refused here, and never
// opened for writing: nothing in it is touched and whatever is still in it
// can be recovered. A file with no valid meta page at all is not a bbolt
// database (or is damaged beyond what bbolt recovers from) and is refused
// the same way.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt reports it, with the same wording as ever
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil // a new or empty file: bbolt initialises it
	}
	size := fi.Size()
	var need uint64
	pageSize := uint64(os.Getpagesize())
	ps0, pgid0, ok0 := readMeta(f, 0)
	if ok0 {
		pageSize = ps0
		need = pgid0 * ps0
	}
	ps1, pgid1, ok1 := readMeta(f, int64(pageSize))
	if ok1 {
		need = max(need, pgid1*ps1)
	}
	if !ok0 && !ok1 {
		return fmt.Errorf("store %s: corrupt or not a signet store (no valid bbolt meta page); restore it from a backup or an export (the file was not changed)", path)
	}
	if need > uint64(size) {
		return fmt.Errorf("store %s: %w: %d bytes, its database header says %d; restore it from a backup or an export (the file was not changed)", path, errTruncated, size, need)
	}
	return nil
}

// readMeta reads the meta page at off and returns its page size and
// high-water page id if it is a valid bbolt meta (magic, version, checksum).
func readMeta(r io.ReaderAt, off int64) (pageSize, pgid uint64, ok bool) {
	var b [boltPageHeader + boltMetaSize]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return 0, 0, false
	}
	m := b[boltPageHeader:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion {
		return 0, 0, false
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSumOff])
	if h.Sum64() != ne.Uint64(m[boltMetaSumOff:]) {
		return 0, 0, false
	}
	pageSize = uint64(ne.Uint32(m[boltMetaPageSize:]))
	if pageSize == 0 {
		return 0, 0, false
	}
	return pageSize, ne.Uint64(m[boltMetaPgidOff:]), true
}
