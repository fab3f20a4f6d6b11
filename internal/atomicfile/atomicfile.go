// Package atomicfile writes a file so that a crash, a full disk or a failed
// write leaves either the old file or the whole new one, never a half file:
// the one home of "write a temporary file, fsync, rename, fsync the
// directory" for every file Signet writes (keys, images, counters, exports,
// corpora).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned by WriteNew when path is already there.
var ErrExists = errors.New("already exists")

// Write replaces path with what write produces, with mode perm. The data is
// fsynced before the rename and the directory after it, so that once Write
// returns the new file survives a power cut (rename(2) alone orders nothing
// on disk). Errors name path.
func Write(path string, perm fs.FileMode, write func(io.Writer) error) error {
	if err := writeFile(path, perm, write); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// WriteNew is Write for a file that must not exist yet: it returns an error
// wrapping ErrExists, and changes nothing, when path is there.
func WriteNew(path string, perm fs.FileMode, write func(io.Writer) error) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	return Write(path, perm, write)
}

// Bytes is a write function for Write that writes data.
func Bytes(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

func writeFile(path string, perm fs.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	err = tmp.Chmod(perm)
	if err == nil {
		err = write(tmp)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	return err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
