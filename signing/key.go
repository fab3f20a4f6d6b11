package signing

// PublicKey verifies signatures for exactly one algorithm. Implementations are
// immutable and safe for concurrent use; expensive checks (point decoding,
// small-order rejection for Ed25519, SPEC §3) happen once, when the key is
// made, never per message.
type PublicKey interface {
	// Alg is the algorithm the key is pinned to, exactly as registered
	// (AlgEdDSA and AlgEd25519 are distinct pins over the same curve).
	Alg() Alg
	// Bytes is the raw public key encoding of the SPEC §2 table.
	Bytes() []byte
	// Verify reports whether signature is valid for message under this key.
	Verify(message, signature []byte) bool
}

// PrivateKey signs messages for one algorithm.
type PrivateKey interface {
	// Alg is the algorithm the key signs for.
	Alg() Alg
	// Public returns the matching public key.
	Public() PublicKey
	// Sign signs message and returns the raw signature of the SPEC §2 table.
	Sign(message []byte) ([]byte, error)
}
