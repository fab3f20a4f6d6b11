// Package command is a device's end of an operator command: an authority
// endorses an operator's key (a CWT), the operator signs a command with it
// (Operator), and a device verifies the command before it acts (Verifier),
// so that even a fully compromised broker cannot make a device act on a
// command no operator signed.
//
// The check itself (endorsement from an authority the device was flashed
// with, signature, scope, freshness, the catalogue's arguments and safety
// rule against the device's reported state) is devices/cmdcheck's, the one
// the broker makes too; this package adds only the keys a device trusts and
// its own replay window for each operator key.
package command
