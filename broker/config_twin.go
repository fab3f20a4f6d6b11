package broker

import "fmt"

// DefaultRejectedPerSecond is how many refusals of one device are published
// per second on $twin/{zone}/{device}/rejected when the config says nothing:
// enough to see what is wrong, few enough that a flood of refusals costs
// the topic's subscribers next to nothing.
const DefaultRejectedPerSecond = 5

// TwinTopicsConfig bounds the broker's own twin topics. It is inlined in
// the twin: section.
type TwinTopicsConfig struct {
	// RejectedPerSecond is how many refusals per device per second are
	// published on $twin/{zone}/{device}/rejected (0: the default); the
	// rest are counted and published as one summary per reason when the
	// second is over.
	RejectedPerSecond int `yaml:"rejected_per_second"`
}

// rejectedPerSecond is RejectedPerSecond with its default.
func (c TwinTopicsConfig) rejectedPerSecond() int {
	if c.RejectedPerSecond == 0 {
		return DefaultRejectedPerSecond
	}
	return c.RejectedPerSecond
}

// validate names the field that is wrong.
func (c TwinTopicsConfig) validate() error {
	if c.RejectedPerSecond < 0 || c.RejectedPerSecond > 1000 {
		return fmt.Errorf("twin.rejected_per_second: %d is outside 0..1000 (0: %d)", c.RejectedPerSecond, DefaultRejectedPerSecond)
	}
	return nil
}
