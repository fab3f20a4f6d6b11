// Package devices is what the city edge knows about each device: the registry
// (devices, their public keys, operators and control-authority keys), the
// anti-replay window of every key, and every device's twin document, behind a
// Store whose first implementation is one bbolt file (devices/boltstore).
//
// The broker works with an Edge: the whole state loaded into memory at start,
// lookups by kid without allocation, a read-only replay pre-check, and Commit,
// which tests-and-sets the window inside a durable counter lease, merges the
// twin, and makes any reported or desired change durable in one group
// commit before the caller may acknowledge the message. Leases are extended
// ahead of use, so a telemetry message or an event normally waits for no
// store write at all (docs/counters.md). Whole windows are written at
// Close, and twins whose only change is their security counters within
// Options.FlushInterval. The command-line tools work with a Registry over
// the same Store.
//
// The edge never stores a private key: enrolment takes public keys only.
package devices
