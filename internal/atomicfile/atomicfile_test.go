package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.jwk")
	if err := Write(path, 0o600, Bytes([]byte("one"))); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	// A write that fails half way leaves the old file and no temporary.
	failed := errors.New("disk full")
	err := Write(path, 0o600, func(w io.Writer) error {
		if _, err := w.Write([]byte("tw")); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("err = %v, want the write's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "one" {
		t.Fatalf("after a failed write the file holds %q, want the old %q", got, "one")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("a temporary file was left behind: %v", ents)
	}
	if err := Write(path, 0o644, Bytes([]byte("two"))); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "two" {
		t.Fatalf("file holds %q, want %q", got, "two")
	}
}

func TestWriteNewRefusesAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "image.img")
	if err := WriteNew(path, 0o600, Bytes([]byte("a"))); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(path, 0o600, Bytes([]byte("b")))
	if !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "a" {
		t.Fatalf("WriteNew changed an existing file: %q", got)
	}
}

func TestWriteNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "x")
	err := Write(path, 0o600, Bytes(nil))
	if err == nil || !filepath.IsAbs(path) || err.Error()[:len(path)] != path {
		t.Fatalf("err = %v, want it to start with %s", err, path)
	}
}
