package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pemKey is one PEM key file and the raw public key it must load to.
type pemKey struct {
	name    string
	path    string
	alg     Alg
	public  []byte
	private bool
}

// writePEM writes der as a PEM block of the given type.
func writePEM(t *testing.T, path, blockType string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// goPEMKeys makes PKCS#8 private and PKIX public PEM files with crypto/x509,
// byte for byte what "openssl genpkey" and "openssl pkey -pubout" write.
func goPEMKeys(t *testing.T, dir string) []pemKey {
	t.Helper()
	edPub, edPriv, ecPriv, ecRaw := stdlibKeys(t)
	var out []pemKey
	for _, k := range []struct {
		name      string
		alg       Alg
		priv, pub any
		raw       []byte
	}{
		{"ed25519", AlgEd25519, edPriv, edPub, edPub},
		{"p256", AlgES256, ecPriv, &ecPriv.PublicKey, ecRaw},
	} {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		privPath := filepath.Join(dir, k.name+".pem")
		writePEM(t, privPath, "PRIVATE KEY", der)
		if der, err = x509.MarshalPKIXPublicKey(k.pub); err != nil {
			t.Fatal(err)
		}
		pubPath := filepath.Join(dir, k.name+".pub.pem")
		writePEM(t, pubPath, "PUBLIC KEY", der)
		out = append(out,
			pemKey{"go " + k.name + " PKCS#8", privPath, k.alg, k.raw, true},
			pemKey{"go " + k.name + " PKIX", pubPath, k.alg, k.raw, false})
	}
	return out
}

// TestPEMKeysLoadSignAndVerify loads PKCS#8 and PKIX PEM keys made by
// crypto/x509 and, where it is installed, by openssl itself, checks that each
// is the same key, and signs and verifies an envelope with it.
func TestPEMKeysLoadSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	keys := goPEMKeys(t, dir)
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			got, err := LoadKeyFile(k.path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Alg != k.alg || !bytes.Equal(got.Public.Bytes(), k.public) || (got.Private != nil) != k.private {
				t.Fatalf("loaded %s %x (private %v), want %s %x (private %v)", got.Alg, got.Public.Bytes(), got.Private != nil, k.alg, k.public, k.private)
			}
			if !k.private {
				return
			}
			msg, err := Sign(got.Private, Header{KID: KeyID(got.Public), Counter: 1}, []byte(`{}`), testTopic)
			if err != nil {
				t.Fatal(err)
			}
			env, err := Parse(msg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Verify(got.Public, testTopic); err != nil {
				t.Fatalf("PEM key's own signature: %v", err)
			}
		})
	}
}

// TestOpenSSLGenpkeyKeys runs the openssl commands the README points users
// to. It needs the openssl binary; TestPEMKeysLoadSignAndVerify covers the
// same file formats without it.
func TestOpenSSLGenpkeyKeys(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is not installed: make test installs it (scripts/test-deps)")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		alg  Alg
	}{
		{"ed25519", []string{"-algorithm", "ed25519"}, AlgEd25519},
		{"p256", []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, AlgES256},
	} {
		t.Run(c.name, func(t *testing.T) {
			priv := filepath.Join(dir, c.name+".pem")
			pub := filepath.Join(dir, c.name+".pub.pem")
			run := func(args ...string) {
				if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
					t.Fatalf("openssl %v: %v\n%s", args, err, out)
				}
			}
			run(append(append([]string{"genpkey"}, c.args...), "-out", priv)...)
			run("pkey", "-in", priv, "-pubout", "-out", pub)
			sk, err := LoadKeyFile(priv)
			if err != nil {
				t.Fatal(err)
			}
			pk, err := LoadKeyFile(pub)
			if err != nil {
				t.Fatal(err)
			}
			if sk.Alg != c.alg || sk.Private == nil || pk.Private != nil || !bytes.Equal(sk.Public.Bytes(), pk.Public.Bytes()) {
				t.Fatalf("openssl keys: private %s, public %s, halves match: %v", sk.Alg, pk.Alg, bytes.Equal(sk.Public.Bytes(), pk.Public.Bytes()))
			}
			env, err := Parse(mustSign(t, sk.Private, Header{Counter: 9}, []byte(`{"on":true}`), testTopic), 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Verify(pk.Public, testTopic); err != nil {
				t.Fatalf("signed with the openssl private key, verified with its public key: %v", err)
			}
		})
	}
}

// TestPEMKeysSignetRefuses: other key types and curves, and PEM blocks that
// are not PKCS#8 or PKIX, are refused with an error naming the file.
func TestPEMKeysSignetRefuses(t *testing.T) {
	dir := t.TempDir()
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pkix := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, blockType string
		der             []byte
		want            string
	}{
		{"p384-private", "PRIVATE KEY", pkcs8(p384), "only P-256"},
		{"rsa-private", "PRIVATE KEY", pkcs8(rsaKey), "*rsa.PrivateKey keys are not supported"},
		{"rsa-public", "PUBLIC KEY", pkix(&rsaKey.PublicKey), "*rsa.PublicKey keys are not supported"},
		{"sec1", "EC PRIVATE KEY", sec1, `block type "EC PRIVATE KEY", want PRIVATE KEY or PUBLIC KEY`},
		{"garbage-der", "PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}, "pem: "},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".pem")
		writePEM(t, path, c.blockType, c.der)
		_, err := LoadKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "key file "+path+": ") {
			t.Errorf("%s: got %v, want an error naming %s and saying %q", c.name, err, path, c.want)
		}
	}
}
