// Package catalog is the command catalogue: for every device kind, the
// commands an operator may send it (city/{zone}/{device}/cmd/{name}), the
// schema of each command's arguments, exactly which desired twin fields it
// sets, and the safety rule it must pass against the device's reported state.
//
// It is the one home of these rules: the broker checks a command against it
// before the command reaches the device or the twin, the device checks it
// again before acting (firmware-sim), and docs/commands-catalogue.md is
// generated from it. The desired patch a command makes is computed here from
// its arguments, never taken from the payload, so a command name can only
// ever set its own fields.
package catalog
