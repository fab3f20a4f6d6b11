package image

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// parseCA reads the image's ca field: one or more PEM certificates, the
// private CA a device trusts for an ssl:// or tls:// broker instead of the
// system's roots. It is refused when it holds no certificate, so that a
// mistyped file is not silently a device that trusts nothing it can reach.
func parseCA(s string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	rest, n := []byte(s), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM %q block; want CERTIFICATE blocks only (never a private key)", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate")
	}
	return pool, nil
}

// SetCA makes pemText (a PEM CA bundle, as signet flash --ca and signet sim
// --ca read it) the CA the device trusts, after checking it.
func (im *Image) SetCA(pemText []byte) error {
	pool, err := parseCA(string(pemText))
	if err != nil {
		return fmt.Errorf(`field "ca": %w`, err)
	}
	im.CA, im.rootCAs = string(pemText), pool
	return nil
}

// RootCAs is the pool of the image's ca field (after Load, Validate or
// SetCA), or nil when it has none: the system's roots then decide.
func (im *Image) RootCAs() *x509.CertPool { return im.rootCAs }
