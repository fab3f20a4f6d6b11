// Package signing is Signet's signature core: the strict COSE_Sign1 envelope of
// SPEC §2 (RFC 9052 §4.2, §4.4), the algorithm suites (Ed25519, ES256, Ed448,
// ML-DSA), keys and key ids, the operator endorsement CWT of SPEC §5 (RFC
// 8392, RFC 8747) that broker and devices both check, and the fast-path
// Verifier that batches Ed25519 verification across connections.
//
// It knows nothing of MQTT: the topic reaches it only as external_aad bytes.
package signing
