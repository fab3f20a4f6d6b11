package broker

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCommitDelayConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.CommitDelay.option() != 2*time.Millisecond {
		t.Errorf("example commit_delay = %v, want 2ms", c.CommitDelay.option())
	}
	for _, tc := range []struct {
		yaml    string
		want    time.Duration // devices.Options.CommitDelay
		wantErr string
	}{
		{"durability: strict\n", 0, ""}, // absent: the edge's default
		{"commit_delay: 5ms\n", 5 * time.Millisecond, ""},
		{"commit_delay: 0s\n", -1, ""}, // off
		{"commit_delay: 21ms\n", 0, "commit_delay: 21ms is outside 0s to 20ms"},
		{"commit_delay: -1ms\n", 0, "commit_delay: -1ms is outside"},
		{"commit_delay: soon\n", 0, `commit_delay: "soon" is not a duration`},
		{"commit_delay: [2]\n", 0, "commit_delay: want a duration"},
	} {
		c, err := loadConfigText(t, tc.yaml)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.wantErr)
		case tc.wantErr == "" && c.CommitDelay.option() != tc.want:
			t.Errorf("%q: commit delay option %v, want %v", tc.yaml, c.CommitDelay.option(), tc.want)
		}
	}
}

// TestCommitDelayNeedsARestart: the committer reads it once, when the
// store opens, so a reload that changes it is refused by its key's name.
func TestCommitDelayNeedsARestart(t *testing.T) {
	old, err := loadConfigText(t, "commit_delay: 2ms\n")
	if err != nil {
		t.Fatal(err)
	}
	next, err := loadConfigText(t, "commit_delay: 5ms\n")
	if err != nil {
		t.Fatal(err)
	}
	if keys := needRestart(old, next); !slices.Equal(keys, []string{"commit_delay"}) {
		t.Errorf("keys needing a restart %q, want commit_delay alone", keys)
	}
}
