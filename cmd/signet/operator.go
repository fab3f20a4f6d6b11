package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

func newOperatorCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Enrol operators who sign commands, and the control authority's keys",
		Long: `Manage who may command devices (docs/operating-commands.md). An operator signs commands with its
own key; the city control authority endorses that key with a CWT naming the
zones, device kinds and command names it may use. The registry keeps each
operator's public keys and scope, and the authority's public keys, in the
store file (--db, default signet.db).`,
		Example: `  signet operator authority add --id city --key authority.pub.jwk
  signet operator enroll --id alice --key alice.pub.jwk --zones z1,z2 --kinds traffic-signal --commands set-plan
  signet operator endorse --authority authority.jwk --operator alice --key alice.pub.jwk --zones z1 --kinds traffic-signal --commands flash,resume --ttl 8h --out alice.cwt
  signet operator show-endorsement alice.cwt
  signet operator list
  signet operator revoke alice`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", defaultDB, "store file")
	cmd.AddCommand(
		newOperatorEnrollCmd(&db),
		newOperatorListCmd(&db),
		newOperatorShowCmd(&db),
		newOperatorRevokeCmd(&db),
		newOperatorAuthorityCmd(&db),
		newOperatorEndorseCmd(),
		newOperatorShowEndorsementCmd(),
	)
	operatorViaAPI(cmd, addAPIFlags(cmd.PersistentFlags())) // operator_api.go
	return cmd
}

func newOperatorEnrollCmd(db *string) *cobra.Command {
	var id, keyPath string
	var zones, kinds, commands []string
	cmd := &cobra.Command{
		Use:   "enroll --id ID --key PUB.jwk --zones Z,... --kinds K,... --commands C,...",
		Short: "Register an operator, its public key and its scope",
		Long: `Register an operator with its public key and the scope the edge allows it:
zones, device kinds and command names, each a comma-separated list, or "*"
for all. The authority's endorsement CWT must grant no less.`,
		Example: `  signet operator enroll --id alice --key alice.pub.jwk --zones z1 --kinds traffic-signal,streetlight --commands set-plan,dim
  signet operator enroll --id ops-bot --key bot.pub.jwk --zones '*' --kinds '*' --commands reboot`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" || keyPath == "" || len(zones) == 0 || len(kinds) == 0 || len(commands) == 0 {
				return usagef("operator enroll needs --id, --key, --zones, --kinds and --commands")
			}
			key, err := loadPublicKey(keyPath)
			if err != nil {
				return err
			}
			o := devices.Operator{ID: id, Keys: []devices.Key{key}, Scope: devices.Scope{Zones: zones, Kinds: kinds, Commands: commands}}
			return withRegistry(cmd, *db, openCreate, func(reg *devices.Registry) error {
				if err := reg.EnrollOperator(cmd.Context(), o); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "enrolled operator %s with key %s (%s)\n", id, signing.FormatKeyID(key.KID), key.Alg)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "operator id")
	cmd.Flags().StringVar(&keyPath, "key", "", "public key file (JWK or PEM)")
	cmd.Flags().StringSliceVar(&zones, "zones", nil, `zones it may command, or "*"`)
	cmd.Flags().StringSliceVar(&kinds, "kinds", nil, `device kinds it may command, or "*"`)
	cmd.Flags().StringSliceVar(&commands, "commands", nil, `command names it may send, or "*"`)
	return cmd
}

func newOperatorListCmd(db *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list [--json]",
		Short:   "List operators and control authorities",
		Example: `  signet operator list`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(cmd, *db, openRead, func(reg *devices.Registry) error {
				ops, err := reg.Operators(cmd.Context())
				if err != nil {
					return err
				}
				auths, err := reg.Authorities(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), struct {
						Operators   []devices.Operator  `json:"operators"`
						Authorities []devices.Authority `json:"authorities"`
					}{nonNilSlice(ops), nonNilSlice(auths)})
				}
				now := time.Now()
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ROLE\tID\tZONES\tKINDS\tCOMMANDS\tKEYS")
				for _, o := range ops {
					fmt.Fprintf(tw, "operator\t%s\t%s\t%s\t%s\t%s\n", o.ID,
						strings.Join(o.Scope.Zones, ","), strings.Join(o.Scope.Kinds, ","), strings.Join(o.Scope.Commands, ","), keySummary(o.Keys, now))
				}
				for _, a := range auths {
					fmt.Fprintf(tw, "authority\t%s\t-\t-\t-\t%s\n", a.ID, keySummary(a.Keys, now))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newOperatorShowCmd(db *string) *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Print one operator as JSON",
		Example: `  signet operator show alice`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRegistry(cmd, *db, openRead, func(reg *devices.Registry) error {
				o, err := reg.Operator(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), o)
			})
		},
	}
}

func newOperatorRevokeCmd(db *string) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke every key of an operator",
		Long: `Revoke every key of an operator: commands it signs are refused from then on,
whatever its endorsement says. To revoke one key of an operator or an
authority, use "signet device revoke --kid KID".`,
		Example: `  signet operator revoke alice`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRegistry(cmd, *db, openExisting, func(reg *devices.Registry) error {
				o, err := reg.RevokeOperator(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked operator %s (%d key(s))\n", o.ID, len(o.Keys))
				return nil
			})
		},
	}
}

func newOperatorAuthorityCmd(db *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authority",
		Short: "Manage the city control authority's public keys",
		Long: `The control authority signs operator endorsements (docs/operating-commands.md). The edge keeps
its public keys to check them; devices are flashed with the same keys.`,
	}
	var id, keyPath string
	add := &cobra.Command{
		Use:   "add --id ID --key PUB.jwk",
		Short: "Add a public key to a control authority (created if new)",
		Long: `Add a public key to a control authority, creating the authority if it is new.
An authority may hold several keys, so that it can roll its key over while
devices flashed with the old one are still in the field.`,
		Example: `  signet operator authority add --id city --key authority.pub.jwk`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" || keyPath == "" {
				return usagef("operator authority add needs --id and --key")
			}
			key, err := loadPublicKey(keyPath)
			if err != nil {
				return err
			}
			return withRegistry(cmd, *db, openCreate, func(reg *devices.Registry) error {
				a, err := reg.AddAuthorityKey(cmd.Context(), id, key)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "authority %s: added key %s (%s), %d key(s) in all\n", a.ID, signing.FormatKeyID(key.KID), key.Alg, len(a.Keys))
				return nil
			})
		},
	}
	add.Flags().StringVar(&id, "id", "", "authority id")
	add.Flags().StringVar(&keyPath, "key", "", "public key file (JWK or PEM)")
	cmd.AddCommand(add)
	return cmd
}
