package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
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
	})
}

// sharedDir is the steering repo's shared/ folder beside this repository.
func sharedDir() string {
	wd, _ := os.Getwd()
	return wd + "/../../../shared"
}
