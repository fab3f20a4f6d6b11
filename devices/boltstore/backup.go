package boltstore

import (
	"context"
	"io"

	bolt "go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole store file to w while the
// store stays in use: bbolt's Tx.WriteTo inside one read transaction, which
// writers do not wait for. The copy is itself a store a broker can start
// on. size is called with the copy's length before the first byte is
// written (an HTTP answer's Content-Length); it may be nil.
func (s *Store) Backup(ctx context.Context, size func(int64), w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}
