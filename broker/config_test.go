package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadConfigText loads text as a config file, as signet serve would.
func loadConfigText(t *testing.T, text string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signet.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(path)
}

func TestExampleConfigLoads(t *testing.T) {
	c, err := LoadConfig("testdata/signet.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Durability != "strict" || len(c.Users) != 1 || c.Users[0].Role != RoleViewer {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"durability: sometimes\n": "durability",
		"colour: blue\n":          "field colour not found",
		"store: \"\"\n":           "store",
		"users: [{name: a, role: king, password_hash: x}]":                 "users[0].role",
		"users: [{name: a, role: viewer, password_hash: x}]":               "users[0].password_hash",
		"users: [{name: a, role: viewer, zones: [Bad], password_hash: x}]": "users[0].zones",
		"users: [{name: a, role: viewer}]":                                 "users[0]: needs a password_hash",
		"users: [{name: a, role: viewer, token_sha256: abc}]":              "users[0].token_sha256",
		"rate_burst: -1\n":         "rate_burst: -1 must not be negative",
		"max_pending_writes: -5\n": "max_pending_writes",
		"gc_percent: -1\n":         "gc_percent",
		"memory_limit_mib: -1\n":   "memory_limit_mib",
		"gomaxprocs: -2\n":         "gomaxprocs",
	}
	for body, want := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(path, []byte(body), 0o600)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: got %v, want an error naming %q and the file", body, err, want)
		}
	}
	if _, err := LoadConfig("/nonexistent/signet.yaml"); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// mtlsFiles writes a self-signed certificate and key, usable as the TLS
// listener's certificate and as its client CA, and returns the tls: block
// of a config that turns mTLS on.
func mtlsFiles(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "config test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return "tls: {listen: \"127.0.0.1:0\", cert: " + cert + ", key: " + keyFile + ", client_ca: " + cert + "}\n"
}

// TestUserCertPinConfig: cert_sha256 is 64 hex digits, needs mTLS, pins a
// certificate to one user only, and is enough on its own to log in.
func TestUserCertPinConfig(t *testing.T) {
	mtls := mtlsFiles(t)
	pin := strings.Repeat("ab", 32)
	cases := []struct{ name, body, want string }{
		{"short", mtls + "users: [{name: a, role: viewer, cert_sha256: abc}]", "users[0].cert_sha256: want 64 hex digits"},
		{"not hex", mtls + "users: [{name: a, role: viewer, cert_sha256: " + strings.Repeat("zz", 32) + "}]", "users[0].cert_sha256: want 64 hex digits"},
		{"colon form", mtls + "users: [{name: a, role: viewer, cert_sha256: \"AB:CD\"}]", "users[0].cert_sha256: want 64 hex digits"},
		{"no mTLS", "users: [{name: a, role: viewer, cert_sha256: " + pin + "}]", "users[0].cert_sha256: certificate login needs tls.listen and tls.client_ca"},
		{"two users, one certificate", mtls + "users: [{name: a, role: viewer, cert_sha256: " + pin + "}, {name: b, role: admin, cert_sha256: " + strings.ToUpper(pin) + "}]",
			`users[1].cert_sha256: already pinned to user "a"`},
		{"no credential at all", mtls + "users: [{name: a, role: viewer, cert_sha256: \"\"}]", "users[0]: needs a password_hash"},
	}
	for _, tc := range cases {
		path := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming %q and the file", tc.name, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(mtls+"users: [{name: kiosk, role: viewer, zones: [z1], cert_sha256: "+strings.ToUpper(pin)+"}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("a user with only a cert_sha256: %v", err)
	}
	if len(c.Users) != 1 || c.Users[0].CertSHA256 != strings.ToUpper(pin) {
		t.Fatalf("users = %+v", c.Users)
	}
}
