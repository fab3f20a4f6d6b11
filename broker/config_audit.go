package broker

import (
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/signet-city/signet/broker/audit"
)

// AuditLimits bound what security events may cost the audit log, so that a
// client cannot fill the disk by failing on purpose. A zero field takes its
// default (DefaultAuditLimits).
type AuditLimits struct {
	// MaxFieldBytes is the most bytes any string of an event may take in
	// the log; a longer one is cut and marked with its length and hash.
	MaxFieldBytes int `yaml:"max_field_bytes"`
	// Burst events from one source are written per Window; further ones
	// are counted and written as one aggregate event when the window closes.
	Burst  int           `yaml:"burst"`
	Window time.Duration `yaml:"window"`
	// MaxSources is how many sources are tracked at once; events from
	// sources past it share one "other" source.
	MaxSources int `yaml:"max_sources"`
	// RotateMiB is the size at which the audit file is rotated, FilesKept
	// how many rotated files are kept.
	RotateMiB int `yaml:"rotate_mib"`
	FilesKept int `yaml:"files_kept"`
}

// DefaultAuditLimits are the limits of a zero AuditLimits.
func DefaultAuditLimits() AuditLimits {
	return AuditLimits{MaxFieldBytes: 256, Burst: 20, Window: 10 * time.Second, MaxSources: 4096, RotateMiB: 64, FilesKept: 8}
}

// withDefaults fills zero fields with their defaults.
func (a AuditLimits) withDefaults() AuditLimits {
	d := DefaultAuditLimits()
	for _, f := range []struct{ v, d *int }{{&a.MaxFieldBytes, &d.MaxFieldBytes}, {&a.Burst, &d.Burst}, {&a.MaxSources, &d.MaxSources}, {&a.RotateMiB, &d.RotateMiB}, {&a.FilesKept, &d.FilesKept}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if a.Window == 0 {
		a.Window = d.Window
	}
	return a
}

// validate names the first field that is out of range.
func (a AuditLimits) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"max_field_bytes", a.MaxFieldBytes}, {"burst", a.Burst}, {"max_sources", a.MaxSources}, {"rotate_mib", a.RotateMiB}, {"files_kept", a.FilesKept}} {
		if f.v < 0 {
			return fmt.Errorf("audit_limits.%s: %d must not be negative", f.name, f.v)
		}
	}
	if a.MaxFieldBytes != 0 && a.MaxFieldBytes < audit.MinFieldBytes {
		return fmt.Errorf("audit_limits.max_field_bytes: %d is too small to mark a cut; want at least %d", a.MaxFieldBytes, audit.MinFieldBytes)
	}
	if a.Window < 0 || (a.Window != 0 && a.Window < 10*time.Millisecond) {
		return fmt.Errorf("audit_limits.window: %s; want a duration of at least 10ms such as 10s", a.Window)
	}
	return nil
}

// logOptions are the audit file's rotation settings.
func (a AuditLimits) logOptions() audit.Options {
	a = a.withDefaults()
	return audit.Options{RotateBytes: int64(a.RotateMiB) << 20, FilesKept: a.FilesKept}
}

// UnmarshalYAML decodes the audit_limits: section strictly (the decoder's
// unknown-field check does not reach into a custom unmarshaller) and
// validates it, so a bad file names the wrong key.
func (a *AuditLimits) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return errors.New("audit_limits: want a mapping such as {burst: 20, window: 10s}")
	}
	type plain AuditLimits
	if err := checkKnownKeys[plain](n, "audit_limits"); err != nil {
		return err
	}
	var p plain
	if err := n.Decode(&p); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return fmt.Errorf("audit_limits: %s", te.Errors[0])
		}
		return fmt.Errorf("audit_limits: %w", err)
	}
	if err := AuditLimits(p).validate(); err != nil {
		return err
	}
	*a = AuditLimits(p)
	return nil
}
