package signing

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// kidSize is the length of a derived key id.
const kidSize = 16

// KeyID returns the stable key id of pub: the first 16 bytes of its RFC 7638
// JWK SHA-256 thumbprint (required members only, in lexicographic order, no
// whitespace). The same public key always has the same kid, whatever tool
// made the JWK.
func KeyID(pub PublicKey) []byte {
	sum := sha256.Sum256(thumbprintInput(pub))
	return sum[:kidSize]
}

// FormatKeyID is the one text form of a kid: lower-case hex.
func FormatKeyID(kid []byte) string { return hex.EncodeToString(kid) }

// ParseKeyID parses the text form of a kid (hex, 1..32 bytes, SPEC §2).
func ParseKeyID(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("kid %q: not hex", s)
	}
	if len(b) < 1 || len(b) > maxKIDLen {
		return nil, fmt.Errorf("kid %q: %d bytes, want 1..%d", s, len(b), maxKIDLen)
	}
	return b, nil
}
