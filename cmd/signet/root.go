package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// newRootCmd assembles every subcommand. Each subcommand lives in its own file
// as newXxxCmd.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "signet",
		Short: "City-edge MQTT broker that verifies every sensor message before it changes a digital twin",
		Long: `Signet is an MQTT broker for the city edge. Every message from a physical
sensor carries a COSE_Sign1 signature and an anti-replay counter; Signet checks
both before the message may reach a subscriber or update the device's digital
twin, and checks signed control commands before they reach a device.

Start with "signet demo": a broker, a simulated district, an attack, the twins
and the rejections, all on this machine.`,
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newKeygenCmd(),
		newInspectCmd(),
		newSignCmd(),
		newAuditCmd(),
		newDemoCmd(),
		newServeCmd(),
		newFlashCmd(),
		newSimCmd(),
		newAttackCmd(),
		newPasswdCmd(),
		newBenchCmd(),
		newDeviceCmd(),
		newOperatorCmd(),
		newAuthorityCmd(),
		newCmdCmd(),
		newTwinCmd(),
		newTokenCmd(),
		newStoreCmd(),
	)
	return root
}

// usageError marks a bad command line (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() + " (see --help)" }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// exactArgs is cobra.ExactArgs with a usage error that names the command.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
