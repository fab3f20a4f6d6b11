package broker

import (
	"strings"
	"testing"
)

func TestLeaseBlockConfig(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.LeaseBlock != 1024 {
		t.Errorf("example lease_block = %d, want 1024", c.LeaseBlock)
	}
	for _, tc := range []struct {
		yaml, wantErr string
	}{
		{"lease_block: 4096\n", ""},
		{"lease_block: 1\n", "lease_block: lease block 1: want 2 to"},
		{"lease_block: 99999999999\n", "lease_block: lease block 99999999999: want 2 to"},
		{"lease_block: -3\n", "lease_block: want a count"},
		{"lease_block: lots\n", "lease_block: want a count"},
	} {
		_, err := loadConfigText(t, tc.yaml)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.yaml, err, tc.wantErr)
		}
	}
}
