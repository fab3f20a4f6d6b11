package boltstore

import (
	"errors"
	"fmt"
)

// ErrCorrupt is wrapped by every error that comes from a store file whose
// pages bbolt cannot make sense of. bbolt does not return an error for a
// damaged page: it panics while it walks the tree. The store turns that
// panic into this error, so that a damaged disk gives the operator one line
// saying what to do rather than a stack trace.
var ErrCorrupt = errors.New("corrupt store file")

// corruptError is the one error a damaged store gives: the file, what was
// found, and the two ways out.
func corruptError(path string, found any) error {
	return fmt.Errorf("store %s: %w (%v); check it with \"signet store check %s\" and restore it from a backup (\"signet store backup\" makes one)", path, ErrCorrupt, found, path)
}

// guard runs fn and turns a panic inside bbolt into an error wrapping
// ErrCorrupt. bbolt rolls a transaction back before its panic leaves
// View or Update, so the file and its lock stay usable for Close.
func guard(path string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(path, r)
		}
	}()
	return fn()
}
