package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/signet-city/signet/internal/atomicfile"
)

// LoadKeyFile reads a key file: a JWK, or PEM as openssl writes it (PKCS#8
// "PRIVATE KEY" or PKIX "PUBLIC KEY", Ed25519 or P-256). Errors name the path.
func LoadKeyFile(path string) (*JWK, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key file %s: no such file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	var k *JWK
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		k, err = parsePEM(data)
	} else {
		k, err = ParseJWK(data)
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

func parsePEM(data []byte) (*JWK, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("pem: no PEM block")
	}
	switch block.Type {
	case "PRIVATE KEY":
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pem: %w", err)
		}
		var priv PrivateKey
		switch k := key.(type) {
		case ed25519.PrivateKey:
			priv, err = newEd25519Private(AlgEd25519, k.Seed())
		case *ecdsa.PrivateKey:
			if k.Curve.Params().Name != "P-256" {
				return nil, fmt.Errorf("pem: ECDSA curve %s, only P-256 (ES256)", k.Curve.Params().Name)
			}
			priv, err = newES256Private(k)
		default:
			return nil, fmt.Errorf("pem: %T keys are not supported (Ed25519 or P-256)", key)
		}
		if err != nil {
			return nil, err
		}
		return &JWK{Alg: priv.Alg(), Public: priv.Public(), Private: priv}, nil
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("pem: %w", err)
		}
		var pub PublicKey
		switch k := key.(type) {
		case ed25519.PublicKey:
			pub, err = NewPublicKey(AlgEd25519, k)
		case *ecdsa.PublicKey:
			raw, rerr := k.Bytes()
			if rerr != nil {
				return nil, fmt.Errorf("pem: %w", rerr)
			}
			pub, err = NewPublicKey(AlgES256, raw)
		default:
			return nil, fmt.Errorf("pem: %T keys are not supported (Ed25519 or P-256)", key)
		}
		if err != nil {
			return nil, err
		}
		return &JWK{Alg: pub.Alg(), Public: pub}, nil
	}
	return nil, fmt.Errorf("pem: block type %q, want PRIVATE KEY or PUBLIC KEY", block.Type)
}

// SavePrivateKeyFile writes priv as a JWK with mode 0600, atomically (a temp
// file in the same folder, then rename). It refuses to replace an existing
// file unless force is set.
func SavePrivateKeyFile(path string, priv PrivateKey, kid []byte, force bool) error {
	data, err := MarshalPrivateJWK(priv, kid)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o600, force)
}

// SavePublicKeyFile writes pub as a JWK (mode 0644), atomically.
func SavePublicKeyFile(path string, pub PublicKey, kid []byte, force bool) error {
	data, err := MarshalPublicJWK(pub, kid)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'), 0o644, force)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode, force bool) error {
	write := atomicfile.Write
	if !force {
		write = atomicfile.WriteNew
	}
	err := write(path, mode, atomicfile.Bytes(data))
	if errors.Is(err, atomicfile.ErrExists) {
		return fmt.Errorf("%s: already exists (use --force to replace it)", path)
	}
	return err
}
