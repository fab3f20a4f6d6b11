package broker_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// certPin is what a cert_sha256 holds: the hex SHA-256 of the DER.
func certPin(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// TestUserCertificateLogin: over the mTLS listener a configured user logs in
// with the client certificate its cert_sha256 pins, without a password, and
// gets its role and zones (a z1 viewer receives z1's twins and data, never
// z2's). A certificate pinned to nobody, one presented with another user's
// name, and one pinned to both a device and a user are refused, each with
// exactly one auth_failed event; passwords keep working, over TLS too.
func TestUserCertificateLogin(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	_, srvCert, srvKey := ca.issue(t, "broker", true)
	kioskCert, _, _ := ca.issue(t, "kiosk", false)
	strangerCert, _, _ := ca.issue(t, "kiosk", false) // same name, same CA, not pinned
	sharedCert, _, _ := ca.issue(t, "shared", false)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared := newDevice(t, "sl-shared", "z1", "streetlight", signing.AlgEd25519)
	c := startCityWith(t, func(cfg *broker.Config) {
		cfg.TLS = broker.TLSConfig{Listen: "127.0.0.1:0", Cert: write("srv.pem", srvCert), Key: write("srv.key", srvKey), ClientCA: write("ca.pem", ca.pem)}
		cfg.Users = append(cfg.Users,
			// Upper case: pins compare as hex, whatever the case.
			broker.User{Name: "kiosk", Role: broker.RoleViewer, Zones: []string{"z1"}, CertSHA256: strings.ToUpper(certPin(kioskCert))},
			broker.User{Name: "shared-admin", Role: broker.RoleAdmin, CertSHA256: certPin(sharedCert)},
		)
	}, func(ctx context.Context, reg *devices.Registry) {
		pub := shared.key.Public()
		err := reg.Enroll(ctx, devices.Device{ID: shared.id, Zone: shared.zone, Kind: shared.kind,
			Keys:        []devices.Key{{KID: shared.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}},
			Credentials: devices.Credentials{CertSHA256: []string{certPin(sharedCert)}}})
		if err != nil {
			t.Fatal(err)
		}
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.pem)
	dialTLS := func(clientID string, cert tls.Certificate, user, pass string) (paho.Client, error) {
		opts := paho.NewClientOptions().AddBroker("ssl://" + c.srv.TLSAddr()).SetClientID(clientID).
			SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetOrderMatters(true).
			SetTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}})
		if user != "" || pass != "" {
			opts.SetUsername(user).SetPassword(pass)
		}
		cl := paho.NewClient(opts)
		tok := cl.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("connect %s: no CONNACK", clientID)
		}
		if tok.Error() != nil {
			return nil, tok.Error()
		}
		t.Cleanup(func() { cl.Disconnect(10) })
		return cl, nil
	}

	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")

	// The pinned certificate alone logs in as kiosk, a viewer of z1.
	kiosk, err := dialTLS("kiosk-1", kioskCert, "", "")
	if err != nil {
		t.Fatalf("kiosk with its pinned certificate and no password: %v", err)
	}
	filters := []string{"$twin/#", "#"}
	subs := make([]*collector, len(filters))
	for i, f := range filters {
		subs[i] = subscribe(t, kiosk, f)
	}
	z2 := c.connect(t, "aq-9", "")
	publish(t, z2, "city/z2/aq-9/state", 1, c.devs["aq-9"].sign(t, "city/z2/aq-9/state", []byte(`{"pm25":3,"units":{"pm25":"ug/m3"}}`)))
	z1 := c.connect(t, "sl-1", "")
	publish(t, z1, "city/z1/sl-1/state", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":5}`)))
	// z2's connect, message and twin changes went first; every twin the
	// kiosk gets is z1's, until the state message's change arrives.
	var part struct {
		Reported map[string]any `json:"reported"`
	}
	for part.Reported["level"] == nil {
		twin := subs[0].next(t)
		if !strings.HasPrefix(twin.Topic(), "$twin/z1/") {
			t.Fatalf("kiosk (z1 viewer) got twin %s", twin.Topic())
		}
		if twin.Topic() == "$twin/z1/sl-1/reported" {
			if err := json.Unmarshal(twin.Payload(), &part); err != nil {
				t.Fatal(err)
			}
		}
	}
	if part.Reported["level"] != 5.0 {
		t.Fatalf("kiosk's z1 twin: %v", part.Reported)
	}
	// mochi matches "#" against $twin/ too (it spares only $SYS); the read
	// ACL must still keep every z2 topic away.
	for m := subs[1].next(t); m.Topic() != "city/z1/sl-1/state"; m = subs[1].next(t) {
		if !strings.HasPrefix(m.Topic(), "$twin/z1/") {
			t.Fatalf("kiosk (z1 viewer) got %s on #", m.Topic())
		}
	}

	// Its own name beside the certificate is fine.
	if _, err := dialTLS("kiosk-2", kioskCert, "kiosk", ""); err != nil {
		t.Fatalf("kiosk with its certificate and its own name: %v", err)
	}
	// Passwords keep working over TLS: an unpinned certificate with a
	// user's password is that user.
	if _, err := dialTLS("viewer-tls", strangerCert, "viewer-z1", testPassword); err != nil {
		t.Fatalf("password login over mTLS with an unpinned certificate: %v", err)
	}

	cases := []struct {
		name, client, user, pass string
		cert                     *tls.Certificate // nil: plain TCP
		reason, detail           string
	}{
		{"certificate pinned to nobody", "kiosk-3", "", "", &strangerCert, "unpinned_certificate", certPin(strangerCert)},
		{"kiosk's certificate as admin", "kiosk-4", "admin", testPassword, &kioskCert, "bad_certificate", `certificate of user "kiosk" presented with username "admin"`},
		{"kiosk's certificate as another viewer", "kiosk-5", "viewer-z1", "", &kioskCert, "bad_certificate", `username "viewer-z1"`},
		{"certificate pinned to a device and a user", "sl-shared", "", "", &sharedCert, "bad_certificate", "pinned to both"},
		{"kiosk by name without its certificate", "kiosk-6", "kiosk", "", nil, "bad_password", `user "kiosk"`},
	}
	for _, tc := range cases {
		if tc.cert != nil {
			if _, err := dialTLS(tc.client, *tc.cert, tc.user, tc.pass); err == nil {
				t.Errorf("%s: connected", tc.name)
			}
		} else if c.connectWith(t, tc.client, tc.user, tc.pass, false) != nil {
			t.Errorf("%s: connected", tc.name)
		}
		// The next event is this refusal's: the case before produced
		// exactly one.
		if ev := nextEvent(t, events); ev.Kind != "auth_failed" || ev.Reason != tc.reason || !strings.Contains(ev.Detail, tc.detail) {
			t.Fatalf("%s: event %+v, want auth_failed %s mentioning %q", tc.name, ev, tc.reason, tc.detail)
		}
	}
}
