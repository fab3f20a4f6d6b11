// Command signet is the city-edge MQTT broker that verifies a signature and an
// anti-replay counter on every sensor message before it may change a digital
// twin, and the tools around it: keys, devices, simulators and benchmarks.
//
// Run "signet --help" for the subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code: 0 on
// success, 1 on any error (printed as one line on stderr), 2 on usage errors,
// or the code an exitError carries (3 for a torn audit log, cmd send's own).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "signet: %v\n", err)
		var own exitError // a command with exit codes of its own (cmd send, audit verify)
		if errors.As(err, &own) {
			return own.code
		}
		if isUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}
