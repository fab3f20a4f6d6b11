package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-city/signet/signing"
)

// good is a valid image written to dir, and its bytes.
func good(t testing.TB, dir string) (string, []byte) {
	t.Helper()
	key, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	jwk, err := signing.MarshalPrivateJWK(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth, _ := signing.GenerateKey(signing.AlgEd25519)
	authJWK, _ := signing.MarshalPublicJWK(auth.Public(), nil)
	im := &Image{Version: Version, Device: "sl-01", Zone: "z1", Kind: "streetlight", Key: jwk,
		Broker: "tcp://127.0.0.1:1883", Authorities: []json.RawMessage{authJWK}, CounterPath: "sl-01.ctr"}
	path := filepath.Join(dir, "sl-01.img")
	if err := Save(path, im, false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// TestLoadRefusesBadImages: every damaged image is refused with one line
// that names the file and what is wrong.
func TestLoadRefusesBadImages(t *testing.T) {
	dir := t.TempDir()
	path, data := good(t, dir)
	im, err := Load(path)
	if err != nil {
		t.Fatalf("a freshly saved image: %v", err)
	}
	if len(im.AuthorityKeys()) != 1 || im.PrivateKey() == nil || im.CounterPath != filepath.Join(dir, "sl-01.ctr") {
		t.Fatalf("loaded image: %d authorities, key %v, counter %q", len(im.AuthorityKeys()), im.PrivateKey(), im.CounterPath)
	}
	replace := func(old, new string) []byte { return []byte(strings.Replace(string(data), old, new, 1)) }
	cases := []struct {
		name string
		data []byte
		mode os.FileMode
		want string
	}{
		{"truncated", data[:len(data)/2], 0o600, "truncated or damaged JSON"},
		{"garbled", append([]byte("\x00\xff"), data...), 0o600, "not a firmware image"},
		{"empty", nil, 0o600, "empty file"},
		{"trailing data", append(append([]byte{}, data...), []byte(`{"x":1}`)...), 0o600, "trailing data"},
		{"readable by others", data, 0o644, "mode 0644 lets other users read its private key"},
		{"readable by group", data, 0o640, "mode 0640"},
		{"unknown field", replace(`"version"`, `"colour": 1, "version"`), 0o600, `unknown field "colour"`},
		{"wrong version", replace(`"version": 1`, `"version": 9`), 0o600, `field "version": 9`},
		{"bad zone", replace(`"zone": "z1"`, `"zone": "Z 1"`), 0o600, `field "zone"`},
		{"bad kind", replace(`"kind": "streetlight"`, `"kind": "toaster"`), 0o600, `field "kind"`},
		{"bad broker", replace(`"broker": "tcp://127.0.0.1:1883"`, `"broker": "http://x"`), 0o600, `field "broker"`},
		{"bad api", replace(`"counter_path"`, `"api": "tcp://h:1", "counter_path"`), 0o600, `field "api": "tcp://h:1" is not http://host:port`},
		{"api with a path", replace(`"counter_path"`, `"api": "http://h:1/api/v1", "counter_path"`), 0o600, `field "api"`},
		{"no counter path", replace(`"counter_path": "sl-01.ctr"`, `"counter_path": ""`), 0o600, `field "counter_path"`},
		{"lease block too small", replace(`"counter_path"`, `"lease_block": 1, "counter_path"`), 0o600, `field "lease_block": lease block 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "d.img")
			if err := os.WriteFile(p, c.data, c.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, c.mode); err != nil { // umask may have narrowed it
				t.Fatal(err)
			}
			_, err := Load(p)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "image "+p+": ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q: want one line naming %s and saying %q", msg, p, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.img")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing image: %v", err)
	}
}

// TestLeaseBlockField: an image without lease_block (every image flashed
// before it existed) loads with 0, the default; one with it keeps it.
func TestLeaseBlockField(t *testing.T) {
	path, data := good(t, t.TempDir())
	im, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if im.LeaseBlock != 0 || strings.Contains(string(data), "lease_block") {
		t.Fatalf("image without lease_block: block %d", im.LeaseBlock)
	}
	with := strings.Replace(string(data), `"counter_path"`, `"lease_block": 4096, "counter_path"`, 1)
	if err := os.WriteFile(path, []byte(with), 0o600); err != nil {
		t.Fatal(err)
	}
	if im, err = Load(path); err != nil {
		t.Fatal(err)
	}
	if im.LeaseBlock != 4096 {
		t.Fatalf("image with lease_block 4096: block %d", im.LeaseBlock)
	}
}
