package broker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to LoadConfig as a configuration
// file. It must never panic; every refusal must be one line that names the
// file; and a configuration it accepts must validate.
func FuzzLoadConfig(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "signet.example.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("mqtt: 127.0.0.1:1883\nusers:\n  - name: a\n    role: admin\n    token_sha256: " + strings.Repeat("ab", 32) + "\n"))
	f.Add([]byte("durability: sometimes\n"))
	f.Add([]byte("users: [{name: x, role: viewer, zones: ['*']}]\n"))
	f.Add([]byte("a: &a [*a, *a, *a, *a]\n"))
	dir := f.TempDir() // one per fuzzing process
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "signet.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "config "+path+": ") || strings.Contains(msg, "\n") {
				t.Fatalf("refusal %q does not name the file on one line", msg)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("LoadConfig accepted a configuration that does not validate: %v", err)
		}
	})
}
