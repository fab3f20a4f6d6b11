package devices

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/signet-city/signet/signing"
)

// KeyStatus says whether a key may still sign.
type KeyStatus string

// Key statuses. An expired key (past NotAfter) keeps StatusActive in the
// registry but is refused exactly like a revoked one (SPEC §4 step 4).
const (
	StatusActive  KeyStatus = "active"
	StatusRevoked KeyStatus = "revoked"
)

// MaxKIDLen is the longest key id an envelope may carry (SPEC §2).
const MaxKIDLen = 32

// Key is one registered public key. The edge never holds the private part.
type Key struct {
	KID      []byte      // key id, 1..32 bytes (SPEC §2); text form lower-case hex
	Alg      signing.Alg // the algorithm the key is pinned to (SPEC §4 step 6)
	Public   []byte      // raw public key of the SPEC §2 table
	Status   KeyStatus   // active or revoked
	NotAfter time.Time   // the key is refused from this instant on; zero = no end
}

// Usable reports whether the key may sign at now: active and not expired.
func (k Key) Usable(now time.Time) bool {
	return k.Status == StatusActive && (k.NotAfter.IsZero() || now.Before(k.NotAfter))
}

// Validate checks the key's fields and decodes its public key, so that a
// registry never holds a key the verifier would refuse to load (for Ed25519,
// small-order keys are refused here, once: SPEC §3).
func (k Key) Validate() error {
	if len(k.KID) == 0 || len(k.KID) > MaxKIDLen {
		return fmt.Errorf("kid %q: must be 1 to %d bytes", signing.FormatKeyID(k.KID), MaxKIDLen)
	}
	if k.Status != StatusActive && k.Status != StatusRevoked {
		return fmt.Errorf("key %s: status %q is neither %q nor %q", signing.FormatKeyID(k.KID), k.Status, StatusActive, StatusRevoked)
	}
	if _, err := signing.NewPublicKey(k.Alg, k.Public); err != nil {
		return fmt.Errorf("key %s: %w", signing.FormatKeyID(k.KID), err)
	}
	return nil
}

// NewKey makes an active key from a loaded key file. A file that holds a
// private key is refused: the edge stores public keys only, and a private
// key copied onto the edge box is a private key leaked.
func NewKey(source string, jwk *signing.JWK) (Key, error) {
	if jwk.Private != nil {
		return Key{}, fmt.Errorf("%s: holds a private key; enrol the public key only (signet keygen --pub writes one)", source)
	}
	if jwk.Public == nil {
		return Key{}, fmt.Errorf("%s: no public key", source)
	}
	kid := jwk.KID
	if len(kid) == 0 {
		kid = signing.KeyID(jwk.Public)
	}
	k := Key{KID: kid, Alg: jwk.Public.Alg(), Public: jwk.Public.Bytes(), Status: StatusActive}
	if err := k.Validate(); err != nil {
		return Key{}, fmt.Errorf("%s: %w", source, err)
	}
	return k, nil
}

// keyJSON is the export form of a Key: text kid and alg, so that people can
// read and diff an export.
type keyJSON struct {
	KID      string     `json:"kid"`
	Alg      string     `json:"alg"`
	Public   string     `json:"public"` // base64url without padding, as JWK "x"
	Status   KeyStatus  `json:"status"`
	NotAfter *time.Time `json:"not_after,omitempty"`
}

// MarshalJSON writes the key with its kid in lower-case hex and its alg by name.
func (k Key) MarshalJSON() ([]byte, error) {
	j := keyJSON{
		KID:    signing.FormatKeyID(k.KID),
		Alg:    k.Alg.String(),
		Public: base64.RawURLEncoding.EncodeToString(k.Public),
		Status: k.Status,
	}
	if !k.NotAfter.IsZero() {
		t := k.NotAfter.UTC()
		j.NotAfter = &t
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes. It checks the encodings;
// Validate checks the key itself.
func (k *Key) UnmarshalJSON(b []byte) error {
	var j keyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kid, err := signing.ParseKeyID(j.KID)
	if err != nil {
		return fmt.Errorf("kid: %w", err)
	}
	alg, err := signing.ParseAlg(j.Alg)
	if err != nil {
		return fmt.Errorf("key %s: alg: %w", j.KID, err)
	}
	pub, err := base64.RawURLEncoding.DecodeString(j.Public)
	if err != nil {
		return fmt.Errorf("key %s: public: not base64url: %w", j.KID, err)
	}
	*k = Key{KID: kid, Alg: alg, Public: pub, Status: j.Status}
	if j.NotAfter != nil {
		k.NotAfter = j.NotAfter.UTC()
	}
	return nil
}
