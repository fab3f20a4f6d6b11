package signing

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// JWK is a key read from a JSON Web Key (RFC 7517) or PEM file.
type JWK struct {
	Alg     Alg
	KID     []byte     // from "kid" (hex); nil if the file had none
	Public  PublicKey  // always set
	Private PrivateKey // nil for a public key
}

// jwkJSON holds the members Signet reads and writes: OKP (RFC 8037) for
// Ed25519 and Ed448, EC (RFC 7518 §6.2) for P-256, and the JOSE "AKP" key
// type for ML-DSA ("pub", and "priv" = the 32-byte seed).
type jwkJSON struct {
	Kty  string `json:"kty"`
	Crv  string `json:"crv,omitempty"`
	Alg  string `json:"alg,omitempty"`
	KID  string `json:"kid,omitempty"`
	X    string `json:"x,omitempty"`
	Y    string `json:"y,omitempty"`
	D    string `json:"d,omitempty"`
	Pub  string `json:"pub,omitempty"`
	Priv string `json:"priv,omitempty"`
}

// joseNames maps our algorithms to JOSE "alg" values.
var joseNames = map[Alg]string{
	AlgEdDSA: "EdDSA", AlgEd25519: "Ed25519", AlgEd448: "Ed448", AlgES256: "ES256",
	AlgMLDSA44: "ML-DSA-44", AlgMLDSA65: "ML-DSA-65", AlgMLDSA87: "ML-DSA-87",
}

var b64 = base64.RawURLEncoding

// MarshalPublicJWK encodes pub as a JWK with "alg" and "kid" (hex; KeyID(pub)
// if kid is nil).
func MarshalPublicJWK(pub PublicKey, kid []byte) ([]byte, error) {
	j, err := publicJWK(pub, kid)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(j, "", "  ")
}

// MarshalPrivateJWK encodes priv, with its public part, as a JWK.
func MarshalPrivateJWK(priv PrivateKey, kid []byte) ([]byte, error) {
	j, err := publicJWK(priv.Public(), kid)
	if err != nil {
		return nil, err
	}
	switch k := priv.(type) {
	case *ed25519Private:
		j.D = b64.EncodeToString(k.seed())
	case *ed448Private:
		j.D = b64.EncodeToString(k.seed())
	case *es256Private:
		d, err := k.priv.Bytes() // fixed 32 bytes (RFC 7518 §6.2.2.1)
		if err != nil {
			return nil, fmt.Errorf("jwk: es256 private key: %w", err)
		}
		j.D = b64.EncodeToString(d)
	case *mldsaPrivate:
		j.Priv = b64.EncodeToString(k.seed())
	default:
		return nil, fmt.Errorf("jwk: cannot encode private key type %T", priv)
	}
	return json.MarshalIndent(j, "", "  ")
}

func publicJWK(pub PublicKey, kid []byte) (jwkJSON, error) {
	if kid == nil {
		kid = KeyID(pub)
	}
	j := jwkJSON{Alg: joseNames[pub.Alg()], KID: FormatKeyID(kid)}
	raw := pub.Bytes()
	switch pub.Alg() {
	case AlgEd25519, AlgEdDSA, AlgEd448:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(raw)
		if len(raw) == ed448KeySize {
			j.Crv = "Ed448"
		}
	case AlgES256:
		j.Kty, j.Crv = "EC", "P-256"
		j.X, j.Y = b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:65])
	case AlgMLDSA44, AlgMLDSA65, AlgMLDSA87:
		j.Kty, j.Pub = "AKP", b64.EncodeToString(raw)
	default:
		return j, fmt.Errorf("jwk: unknown algorithm %s", pub.Alg())
	}
	return j, nil
}

// thumbprintInput is the RFC 7638 §3 input: the required members in
// lexicographic order with no whitespace.
func thumbprintInput(pub PublicKey) []byte {
	j, err := publicJWK(pub, []byte{0})
	if err != nil {
		return pub.Bytes()
	}
	switch j.Kty {
	case "OKP":
		return fmt.Appendf(nil, `{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
	case "EC":
		return fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, j.X, j.Y)
	default: // AKP: alg, kty, pub
		return fmt.Appendf(nil, `{"alg":%q,"kty":"AKP","pub":%q}`, j.Alg, j.Pub)
	}
}

// ParseJWK decodes a public or private JWK. Errors name the member.
func ParseJWK(data []byte) (*JWK, error) {
	var j jwkJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("jwk: not a JSON object: %w", err)
	}
	member := func(name, v string, size int) ([]byte, error) {
		b, err := b64.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("jwk: member %q: not base64url", name)
		}
		if size > 0 && len(b) != size {
			return nil, fmt.Errorf("jwk: member %q: %d bytes, want %d", name, len(b), size)
		}
		return b, nil
	}
	out := &JWK{}
	if j.KID != "" {
		kid, err := ParseKeyID(j.KID)
		if err != nil {
			return nil, fmt.Errorf("jwk: member \"kid\": %w", err)
		}
		out.KID = kid
	}
	alg, err := jwkAlg(j)
	if err != nil {
		return nil, err
	}
	out.Alg = alg
	var raw, secret []byte
	switch j.Kty {
	case "OKP":
		if raw, err = member("x", j.X, 0); err != nil {
			return nil, err
		}
		if j.D != "" {
			if secret, err = member("d", j.D, 0); err != nil {
				return nil, err
			}
		}
	case "EC":
		x, err := member("x", j.X, 32)
		if err != nil {
			return nil, err
		}
		y, err := member("y", j.Y, 32)
		if err != nil {
			return nil, err
		}
		raw = append(append([]byte{4}, x...), y...)
		if j.D != "" {
			if secret, err = member("d", j.D, 32); err != nil {
				return nil, err
			}
		}
	case "AKP":
		if raw, err = member("pub", j.Pub, 0); err != nil {
			return nil, err
		}
		if j.Priv != "" {
			if secret, err = member("priv", j.Priv, mldsaSeedSize); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("jwk: member \"kty\": %q is not OKP, EC or AKP", j.Kty)
	}
	if out.Public, err = NewPublicKey(alg, raw); err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	if secret == nil {
		return out, nil
	}
	if out.Private, err = privateFromSecret(alg, secret); err != nil {
		return nil, fmt.Errorf("jwk: member \"d\": %w", err)
	}
	if !bytes.Equal(out.Private.Public().Bytes(), out.Public.Bytes()) {
		return nil, fmt.Errorf("jwk: the private key does not match the public key in the file")
	}
	return out, nil
}

// jwkAlg reads "alg" (and "crv" when "alg" is absent).
func jwkAlg(j jwkJSON) (Alg, error) {
	if j.Alg != "" {
		for a, n := range joseNames {
			if n == j.Alg {
				return a, nil
			}
		}
		return 0, fmt.Errorf("jwk: member \"alg\": %q is not one of EdDSA, Ed25519, Ed448, ES256, ML-DSA-44, ML-DSA-65, ML-DSA-87", j.Alg)
	}
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		return AlgEd25519, nil
	case j.Kty == "OKP" && j.Crv == "Ed448":
		return AlgEd448, nil
	case j.Kty == "EC" && j.Crv == "P-256":
		return AlgES256, nil
	}
	return 0, fmt.Errorf("jwk: member \"alg\": missing, and kty %q crv %q do not name a key Signet knows", j.Kty, j.Crv)
}

// privateFromSecret rebuilds a private key from its JWK secret member.
func privateFromSecret(alg Alg, secret []byte) (PrivateKey, error) {
	switch alg {
	case AlgEd25519:
		return newEd25519Private(alg, secret)
	case AlgEdDSA:
		if len(secret) == 57 {
			return newEd448Private(alg, secret)
		}
		return newEd25519Private(alg, secret)
	case AlgEd448:
		return newEd448Private(alg, secret)
	case AlgES256:
		// RFC 7518 §6.2.2.1: d is the 32-byte scalar; ParseRawPrivateKey
		// also refuses 0 and values ≥ the group order.
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), secret)
		if err != nil {
			return nil, fmt.Errorf("es256 private key: %w", err)
		}
		return newES256Private(priv)
	case AlgMLDSA44, AlgMLDSA65, AlgMLDSA87:
		return newMLDSAPrivate(alg, secret)
	}
	return nil, fmt.Errorf("unknown algorithm %s", alg)
}
