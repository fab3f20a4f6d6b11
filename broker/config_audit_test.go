package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigHasTheDefaultAuditLimits(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.AuditLimits != DefaultAuditLimits() {
		t.Fatalf("audit_limits = %+v, want the defaults %+v", c.AuditLimits, DefaultAuditLimits())
	}
}

func TestAuditLimitsErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"audit_limits: {burst: -1}\n":           "audit_limits.burst: -1 must not be negative",
		"audit_limits: {max_sources: -3}\n":     "audit_limits.max_sources",
		"audit_limits: {window: 1ms}\n":         "audit_limits.window",
		"audit_limits: {window: often}\n":       "audit_limits",
		"audit_limits: {max_field_bytes: 10}\n": "audit_limits.max_field_bytes",
		"audit_limits: {rotate_gib: 1}\n":       "audit_limits: field rotate_gib not found",
		"audit_limits: [1, 2]\n":                "audit_limits: want a mapping",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: got %v, want an error naming %q and the file", body, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("audit_limits: {burst: 5, window: 2s}\n"), 0o600)
	c, err := LoadConfig(path)
	if err != nil || c.AuditLimits.Burst != 5 || c.AuditLimits.Window.Seconds() != 2 {
		t.Fatalf("got %+v, %v", c.AuditLimits, err)
	}
	if w := c.AuditLimits.withDefaults(); w.MaxFieldBytes != 256 || w.Burst != 5 {
		t.Fatalf("defaults: %+v", w)
	}
}
