// Package command is SPEC §5 on both ends of a control request: an
// authority endorses an operator's key (a CWT), the operator signs a
// command with it, and a device verifies the command before it acts —
// endorsement from an authority it was flashed with, the operator's
// signature, its own replay window for the operator's key, freshness,
// scope and domain safety — so that even a fully compromised broker cannot
// make a device act on a command no operator signed.
//
// Envelopes, endorsements (RFC 8392, RFC 8747), parsing, signatures,
// scopes, replay windows and the kinds' rules are the signing and devices
// packages'; this package adds only the keys a device trusts and the order
// of the checks.
package command
