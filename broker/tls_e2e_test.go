package broker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "city test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

func (ca *testCA) issue(t *testing.T, cn string, server bool) (tls.Certificate, []byte, []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestMutualTLSCertificateAndWebSocket: a device authenticates by its pinned
// client certificate over mTLS; a valid certificate that is not pinned, or no
// certificate, is refused; the same device can also use WebSocket with a
// connect token.
func TestMutualTLSCertificateAndWebSocket(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	_, srvCert, srvKey := ca.issue(t, "broker", true)
	deviceCert, _, _ := ca.issue(t, "sl-1", false)
	strangerCert, _, _ := ca.issue(t, "sl-1", false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	d := newDevice(t, "sl-1", "z1", "streetlight", signing.AlgEd25519)
	pin := sha256.Sum256(deviceCert.Certificate[0])
	storePath := filepath.Join(dir, "s.db")
	store, err := boltstore.Open(storePath, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub := d.key.Public()
	err = devices.NewRegistry(store, nil).Enroll(context.Background(), devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight",
		Keys:        []devices.Key{{KID: d.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}},
		Credentials: devices.Credentials{CertSHA256: []string{hex.EncodeToString(pin[:])}}})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP, cfg.WebSocket = storePath, "127.0.0.1:0", "", freeAddr(t)
	cfg.TLS = broker.TLSConfig{Listen: "127.0.0.1:0", Cert: write("srv.pem", srvCert), Key: write("srv.key", srvKey), ClientCA: write("ca.pem", ca.pem)}
	srv, err := broker.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	dial := func(broker string, certs []tls.Certificate, user, pass string) (paho.Client, error) {
		opts := paho.NewClientOptions().AddBroker(broker).SetClientID("sl-1").SetAutoReconnect(false).
			SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: certs})
		if user != "" {
			opts.SetUsername(user).SetPassword(pass)
		}
		cl := paho.NewClient(opts)
		tok := cl.Connect()
		tok.WaitTimeout(10 * time.Second)
		return cl, tok.Error()
	}
	tlsURL := "ssl://" + srv.TLSAddr()
	cl, err := dial(tlsURL, []tls.Certificate{deviceCert}, "", "")
	if err != nil {
		t.Fatalf("pinned certificate refused: %v", err)
	}
	const tp = "city/z1/sl-1/state"
	if tok := cl.Publish(tp, 1, false, d.sign(t, tp, []byte(`{"level":9}`))); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	cl.Disconnect(10)
	if doc, _ := srv.Edge().Twin("sl-1"); doc.Reported["level"] != 9.0 {
		t.Fatalf("twin after the mTLS message: %v", doc.Reported)
	}
	if _, err := dial(tlsURL, []tls.Certificate{strangerCert}, "", ""); err == nil {
		t.Fatal("a CA-signed but unpinned certificate authenticated as sl-1")
	}
	if _, err := dial(tlsURL, nil, "sl-1", string(d.token(t, "sl-1"))); err == nil {
		t.Fatal("mTLS listener accepted a client without a certificate")
	}
	ws, err := dial("ws://"+cfg.WebSocket, nil, "sl-1", string(d.token(t, "sl-1")))
	if err != nil {
		t.Fatalf("websocket with a connect token: %v", err)
	}
	ws.Disconnect(10)
}
