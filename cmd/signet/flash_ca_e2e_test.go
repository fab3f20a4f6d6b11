package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/broker/brokertest"
	"github.com/signet-city/signet/firmware-sim/image"
)

// privateCA writes a CA certificate to dir/name.pem and, when server is
// set, a certificate for 127.0.0.1 it signed (dir/name-server.pem and its
// key), returning the three paths.
func privateCA(t *testing.T, dir, name string) (caFile, certFile, keyFile string) {
	t.Helper()
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return write(name+".pem", "CERTIFICATE", caDER), write(name+"-server.pem", "CERTIFICATE", der), write(name+"-server.key", "EC PRIVATE KEY", kder)
}

// TestFlashAndSimTrustAPrivateCA: a broker's TLS certificate is signed by a
// private CA. A device flashed with --ca that CA connects over ssl:// and
// its messages are accepted; a device flashed without it is refused by its
// own TLS check (the system's roots do not know the CA) until sim --ca
// gives it the CA; sim --ca with another CA's certificate refuses the
// broker even for the device whose image holds the right one.
func TestFlashAndSimTrustAPrivateCA(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", filepath.Join(t.TempDir(), "none.pem")) // no help from outside the image
	dir := t.TempDir()
	caFile, certFile, keyFile := privateCA(t, dir, "city")
	otherCA, _, _ := privateCA(t, dir, "other")
	token := "flash-token-1"
	sum := sha256.Sum256([]byte(token))
	srv := brokertest.Start(t, filepath.Join(dir, "s.db"), func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.TLS = broker.TLSConfig{Listen: "127.0.0.1:0", Cert: certFile, Key: keyFile}
		cfg.Users = []broker.User{{Name: "flasher", Role: broker.RoleAdmin, TokenSHA256: hex.EncodeToString(sum[:])}}
	})
	api, tlsURL := "http://"+srv.HTTPAddr(), "ssl://"+srv.TLSAddr()
	trusting, plain := filepath.Join(dir, "trusting"), filepath.Join(dir, "plain")
	flash := func(device, out string, extra ...string) {
		args := append([]string{"flash", "--device", device, "--kind", "streetlight", "--zone", "harbour", "--broker", tlsURL,
			"--out", filepath.Join(out, device+".img"), "--api", api, "--token", token, "--no-commands"}, extra...)
		signet(t, 0, args...)
	}
	flash("sl-ca", trusting, "--ca", caFile)
	flash("sl-plain", plain)

	im, err := image.Load(filepath.Join(trusting, "sl-ca.img"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(caFile)
	if im.CA != string(want) || im.RootCAs() == nil {
		t.Fatalf("the image does not hold the CA: %q", im.CA)
	}

	accepted := func(device string) uint64 {
		doc, _ := srv.Edge().Twin(device)
		if doc == nil {
			return 0
		}
		return doc.Security.Accepted
	}
	// The honest device with the CA in its image: accepted over TLS.
	out, _ := signet(t, 0, "sim", trusting, "--duration", "2s", "--rate", "5")
	if sent, acked, _ := summaryNumbers(t, out); sent == 0 || acked == 0 || accepted("sl-ca") == 0 {
		t.Fatalf("sim with the CA in the image: sent %d acked %d, twin accepted %d\n%s", sent, acked, accepted("sl-ca"), out)
	}

	// Without the CA the device will not talk to the broker.
	_, stderr := signet(t, 1, "sim", plain, "--duration", "2s", "--rate", "5")
	if !strings.Contains(stderr, "certificate") || accepted("sl-plain") != 0 {
		t.Fatalf("sim without a CA: stderr %q, twin accepted %d; want a certificate error and nothing accepted", stderr, accepted("sl-plain"))
	}
	// sim --ca gives it the CA for the run.
	out, _ = signet(t, 0, "sim", plain, "--ca", caFile, "--duration", "2s", "--rate", "5")
	if sent, acked, _ := summaryNumbers(t, out); sent == 0 || acked == 0 || accepted("sl-plain") == 0 {
		t.Fatalf("sim --ca: sent %d acked %d, twin accepted %d\n%s", sent, acked, accepted("sl-plain"), out)
	}
	// sim --ca overrides the image: another CA does not vouch for the broker.
	before := accepted("sl-ca")
	_, stderr = signet(t, 1, "sim", trusting, "--ca", otherCA, "--duration", "2s", "--rate", "5")
	if !strings.Contains(stderr, "certificate") || accepted("sl-ca") != before {
		t.Fatalf("sim --ca with another CA: stderr %q; want a certificate error and nothing more accepted", stderr)
	}

	// A --ca that is no certificate is one clear error, and no image.
	bad := filepath.Join(dir, "key.pem")
	os.WriteFile(bad, bytes.ReplaceAll(want, []byte("CERTIFICATE"), []byte("PRIVATE KEY")), 0o600)
	_, stderr = signet(t, 1, "flash", "--device", "sl-bad", "--kind", "streetlight", "--zone", "harbour", "--broker", tlsURL,
		"--out", filepath.Join(dir, "bad", "sl-bad.img"), "--no-commands", "--ca", bad)
	if !strings.Contains(stderr, "--ca "+bad) || !strings.Contains(stderr, "CERTIFICATE blocks only") {
		t.Fatalf("flash --ca with a key: stderr %q", stderr)
	}
}
