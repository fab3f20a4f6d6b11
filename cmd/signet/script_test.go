package main

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/signet-city/signet/broker/audit"
)

// TestMain lets testscript scripts run "signet" as a real command in-process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"signet": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs every testdata/script/*.txtar: one file shows a command,
// its input, its exact output and its exit code.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SHARED", sharedDir())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkaudit":     mkaudit,
			"flipbyte":    flipbyte,
			"plainbroker": plainbroker,
		},
	})
}

// mkaudit FILE N [ROTATE_BYTES KEPT] writes an audit log of N rejection
// events with the broker's own writer (broker/audit), as a broker would,
// rotating it at ROTATE_BYTES and keeping KEPT rotated files.
func mkaudit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || (len(args) != 2 && len(args) != 4) {
		ts.Fatalf("usage: mkaudit FILE N [ROTATE_BYTES KEPT]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	var o audit.Options
	if len(args) == 4 {
		rotate, err := strconv.Atoi(args[2])
		ts.Check(err)
		o.RotateBytes = int64(rotate)
		o.FilesKept, err = strconv.Atoi(args[3])
		ts.Check(err)
	}
	l, err := audit.OpenWith(ts.MkAbs(args[0]), o)
	ts.Check(err)
	for i := range n {
		ts.Check(l.Append(audit.Event{
			Time: time.Date(2026, 11, 25, 8, 0, i, 0, time.UTC), Kind: "rejected", Client: "sl-01",
			Device: "sl-01", Topic: "city/z1/sl-01/state", Reason: "replay", Counter: uint64(100 + i),
		}))
	}
	ts.Check(l.Close())
}

// flipbyte FILE OFFSET changes one byte of FILE (xor 1), as a tamperer would.
func flipbyte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if off >= len(b) {
		ts.Fatalf("flipbyte: %s has %d bytes", args[0], len(b))
	}
	b[off] ^= 1
	ts.Check(os.WriteFile(path, b, 0o600))
}

// sharedDir is the steering repo's shared/ folder beside this repository.
func sharedDir() string {
	wd, _ := os.Getwd()
	return wd + "/../../../shared"
}
