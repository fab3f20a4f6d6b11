// Package edbatch implements Ed25519 signature verification with the rules of
// SPEC §3: canonical S, R and A; small-order public keys refused once, when the
// key is made; and the cofactored equation [8][S]B = [8]R + [8][k]A, used for
// single and batch verification alike so that the two never disagree.
//
// It is built on filippo.io/edwards25519 and knows nothing of COSE or MQTT.
package edbatch
