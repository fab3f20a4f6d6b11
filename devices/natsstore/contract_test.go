package natsstore_test

import (
	"context"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
	"github.com/signet-city/signet/devices/storetest"
)

// openOn opens a store on url (replicas r) and closes it when the test ends.
func openOn(t *testing.T, url string, r int) *natsstore.Store {
	t.Helper()
	s, err := natsstore.Open(context.Background(), natsstore.Options{Servers: url, Replicas: r})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreContract runs the contract every devices.Store keeps
// (devices/storetest) on JetStream: one server per test, replicas 1; a
// reopen is a new connection to the same server.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (devices.Store, func(*testing.T) devices.Store) {
		url := natstest.Server(t).ClientURL()
		s := openOn(t, url, 1)
		return s, func(t *testing.T) devices.Store {
			s.Close()
			s = openOn(t, url, 1)
			return s
		}
	})
}
