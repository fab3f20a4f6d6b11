package broker

// CheckConfig validates cfg as New and Reload do before they act on it:
// every field (Validate, which also loads the TLS files) and the audit
// limits. It opens no store and no listener, so an operator can check a
// file before starting the broker or sending it SIGHUP. A reload can still
// refuse a valid file that changes a setting needing a restart; only the
// running broker knows what it runs with.
func CheckConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := cfg.AuditLimits.validate(); err != nil {
		return err
	}
	return nil
}
