package broker

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// maxCommitDelay bounds commit_delay: the delay is paid by every state
// message and command while commits run back to back, and beyond a few
// milliseconds it would be most of their latency.
const maxCommitDelay = 20 * time.Millisecond

// CommitDelay is the commit_delay config key: how long the store's group
// committer, once transactions run back to back, waits for more changes to
// share the next one (devices.Options.CommitDelay). Absent, it is
// devices.DefaultCommitDelay; "0s" turns the wait off.
type CommitDelay struct {
	D   time.Duration `yaml:"-"`
	Set bool          `yaml:"-"` // the key was given
}

// UnmarshalYAML reads a Go duration such as "2ms" and refuses one that is
// negative or longer than maxCommitDelay, naming the key.
func (d *CommitDelay) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: commit_delay: want a duration such as 2ms", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: commit_delay: %q is not a duration such as 2ms", n.Line, s)
	}
	if v < 0 || v > maxCommitDelay {
		return fmt.Errorf("line %d: commit_delay: %s is outside 0s to %s", n.Line, v, maxCommitDelay)
	}
	*d = CommitDelay{D: v, Set: true}
	return nil
}

// option is the value for devices.Options.CommitDelay (0: its default,
// negative: never).
func (d CommitDelay) option() time.Duration {
	switch {
	case !d.Set:
		return 0
	case d.D == 0:
		return -1
	}
	return d.D
}
