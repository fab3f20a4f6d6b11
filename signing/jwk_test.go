package signing

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJWKRoundTripEveryAlg(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg.String(), func(t *testing.T) {
			priv := mustKey(t, alg)
			dir := t.TempDir()
			path := filepath.Join(dir, "k.jwk")
			if err := SavePrivateKeyFile(path, priv, nil, false); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
			}
			k, err := LoadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != alg || k.Private == nil || !bytes.Equal(k.Public.Bytes(), priv.Public().Bytes()) || !bytes.Equal(k.KID, KeyID(priv.Public())) {
				t.Fatalf("round trip: alg %s kid %x", k.Alg, k.KID)
			}
			msg := []byte("m")
			sig, _ := k.Private.Sign(msg)
			if !priv.Public().Verify(msg, sig) {
				t.Fatal("reloaded key signs differently")
			}
			pubJSON, err := MarshalPublicJWK(priv.Public(), nil)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParseJWK(pubJSON)
			if err != nil || pub.Private != nil || !bytes.Equal(pub.Public.Bytes(), priv.Public().Bytes()) {
				t.Fatalf("public JWK: %v", err)
			}
		})
	}
}

func TestKeyFileErrorsNameTheProblem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	priv := mustKey(t, AlgEd25519)
	good, _ := MarshalPrivateJWK(priv, nil)
	other := mustKey(t, AlgEd25519)
	otherJSON, _ := MarshalPrivateJWK(other, nil)
	mismatched := strings.Replace(string(good), jwkMember(t, good, "d"), jwkMember(t, otherJSON, "d"), 1)
	cases := map[string]string{
		write("missing-x.jwk", `{"kty":"OKP","crv":"Ed25519"}`):                            "ed25519 public key",
		write("bad-kty.jwk", `{"kty":"RSA","n":"AQAB"}`):                                   `member "alg"`,
		write("bad-b64.jwk", `{"kty":"OKP","crv":"Ed25519","x":"!!"}`):                     `member "x": not base64url`,
		write("mismatch.jwk", mismatched):                                                  "does not match",
		write("truncated.jwk", string(good[:20])):                                          "not a JSON object",
		write("bad.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"): "pem",
		filepath.Join(dir, "absent.jwk"):                                                   "no such file",
	}
	for path, want := range cases {
		_, err := LoadKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: got %v, want an error naming the file and %q", filepath.Base(path), err, want)
		}
	}
}

func jwkMember(t *testing.T, j []byte, name string) string {
	k, err := ParseJWK(j)
	if err != nil || k == nil {
		t.Fatal(err)
	}
	s := string(j)
	i := strings.Index(s, `"`+name+`": "`)
	rest := s[i+len(name)+5:]
	return rest[:strings.Index(rest, `"`)]
}
