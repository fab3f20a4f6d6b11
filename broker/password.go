package broker

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new hashes (RFC 9106 §4, second recommended option:
// 64 MiB, 3 passes, 4 lanes).
const (
	argonMemoryKiB = 64 * 1024
	argonTime      = 3
	argonThreads   = 4
	argonKeyLen    = 32
)

// HashPassword returns an argon2id PHC string:
// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash> (unpadded base64).
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(h)), nil
}

// CheckPassword reports whether password matches the PHC string phc.
func CheckPassword(phc, password string) (bool, error) {
	h, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), h.salt, h.time, h.memoryKiB, h.threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1, nil
}

// phcHash is a parsed argon2id PHC string.
type phcHash struct {
	memoryKiB, time uint32
	threads         uint8
	salt, sum       []byte
}

// parsePHC reads $argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>.
func parsePHC(phc string) (phcHash, error) {
	var h phcHash
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return h, fmt.Errorf("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return h, fmt.Errorf("password hash: version %q, want v=%d", parts[2], argon2.Version)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memoryKiB, &h.time, &h.threads); err != nil || h.time == 0 || h.threads == 0 {
		return h, fmt.Errorf("password hash: parameters %q", parts[3])
	}
	enc := base64.RawStdEncoding
	var err error
	if h.salt, err = enc.DecodeString(parts[4]); err != nil {
		return h, fmt.Errorf("password hash: salt: %w", err)
	}
	if h.sum, err = enc.DecodeString(parts[5]); err != nil || len(h.sum) == 0 {
		return h, fmt.Errorf("password hash: hash is not base64")
	}
	return h, nil
}

// String writes h back as a PHC string.
func (h phcHash) String() string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.memoryKiB, h.time, h.threads,
		enc.EncodeToString(h.salt), enc.EncodeToString(h.sum))
}
