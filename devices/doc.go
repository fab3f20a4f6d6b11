// Package devices is what the city edge knows about each device: the registry
// (devices, their public keys, operators and control-authority keys), the
// anti-replay window of every key, and every device's twin document, behind a
// Store whose first implementation is one bbolt file (devices/boltstore).
//
// The broker works with an Edge: the whole state loaded into memory at start,
// lookups by kid without allocation, a read-only replay pre-check, and Commit,
// which tests-and-sets the window, merges the twin and makes the key's
// high-water mark, and any reported or desired change, durable in one group
// commit before the caller may acknowledge the message (SPEC §4 step 11,
// §6). Whole windows are written at Close, and twins whose only change is
// their security counters within Options.FlushInterval. The command-line
// tools work with a Registry over the same Store.
//
// The edge never stores a private key: enrolment takes public keys only.
package devices
