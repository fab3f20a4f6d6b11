package fleet_test

import (
	"path/filepath"

	"github.com/signet-city/signet/firmware-sim/counter"
)

func reopen(dir string) (*counter.Store, error) {
	return counter.Open(filepath.Join(dir, "sl-1.ctr"), 0)
}
