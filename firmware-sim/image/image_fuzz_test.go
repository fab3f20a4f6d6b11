package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as an image file. It must never
// panic; every refusal must be one line that names the file; and an image it
// accepts must be valid and survive a Save and Load unchanged.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir() // one per fuzzing process
	_, data := good(f, dir)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1, "device": "sl-01", "key": {"kty": "OKP"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "d.img")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		im, err := Load(path)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "image "+path+": ") || strings.Contains(msg, "\n") {
				t.Fatalf("refusal %q does not name the file on one line", msg)
			}
			return
		}
		if err := im.Validate(); err != nil {
			t.Fatalf("Load accepted an image that does not validate: %v", err)
		}
		again := filepath.Join(dir, "again.img")
		if err := Save(again, im, true); err != nil {
			t.Fatalf("an accepted image cannot be saved: %v", err)
		}
		back, err := Load(again)
		if err != nil {
			t.Fatalf("a saved image does not load: %v", err)
		}
		if back.Device != im.Device || back.Zone != im.Zone || back.Kind != im.Kind || back.Broker != im.Broker {
			t.Fatalf("image changed on a round trip: %+v -> %+v", im, back)
		}
	})
}
