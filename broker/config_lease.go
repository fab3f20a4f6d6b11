package broker

import (
	"fmt"

	"github.com/signet-city/signet/devices"
	"gopkg.in/yaml.v3"
)

// LeaseBlock is the lease_block config key: how many counters one durable
// lease write covers per key (devices.Options.LeaseBlock; 0:
// devices.DefaultLeaseBlock). Devices skip twice this on every reconnect,
// so it must match the lease_block of their flash images.
type LeaseBlock uint64

// UnmarshalYAML reads a count and refuses one outside the bounds, naming the
// key.
func (b *LeaseBlock) UnmarshalYAML(n *yaml.Node) error {
	var v uint64
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("line %d: lease_block: want a count of counters", n.Line)
	}
	if err := devices.ValidLeaseBlock(v); err != nil {
		return fmt.Errorf("line %d: lease_block: %w", n.Line, err)
	}
	*b = LeaseBlock(v)
	return nil
}
