package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/storetest"
)

// TestStoreContract runs the contract every devices.Store keeps
// (devices/storetest) on a bbolt file.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (devices.Store, func(*testing.T) devices.Store) {
		path := filepath.Join(t.TempDir(), "s.db")
		s := open(t, path)
		return s, func(t *testing.T) devices.Store {
			s.Close()
			s = open(t, path)
			return s
		}
	})
}
