package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/signet-city/signet/internal/atomicfile"

	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

// newAuthorityCmd is the city control authority's own tool: its key signs
// the endorsements that let operators command devices, so it lives offline,
// apart from the broker and the operators' consoles.
func newAuthorityCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "authority",
		Short: "The city control authority's key (kept offline)",
		Long: `The control authority endorses operators' keys ("signet operator endorse"). The
broker and every device are given its public key ("signet operator authority
add", "signet flash --authority") and trust a command only when an endorsement
signed by it names the operator's key and allows the command.`,
		Example: `  signet authority init --out authority.jwk --pub authority.pub.jwk`,
	}
	cmd.AddCommand(newAuthorityInitCmd())
	return cmd
}

func newAuthorityInitCmd() *cobra.Command {
	var out, pubOut, algName string
	cmd := &cobra.Command{
		Use:   "init --out authority.jwk [--pub authority.pub.jwk]",
		Short: "Generate the control authority's signing key (mode 0600)",
		Long: `Generate the control authority's private key as a JWK with mode 0600, and with
--pub its public half. An existing file is never replaced: losing the authority
key to an overwrite would orphan every device flashed with it, so remove or
move the old one yourself if you really mean to start over.

Keep the private key offline; hand out only the public key.`,
		Example: `  signet authority init --out authority.jwk --pub authority.pub.jwk
  signet operator authority add --id city --key authority.pub.jwk
  signet flash --authority authority.pub.jwk ...`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("authority init needs --out: a private key is never printed to the terminal")
			}
			alg, err := signing.ParseAlg(algName)
			if err != nil {
				return usagef("--alg: %v", err)
			}
			priv, err := signing.GenerateKey(alg)
			if err != nil {
				return err
			}
			kid := signing.KeyID(priv.Public())
			for _, p := range []string{out, pubOut} {
				if _, err := os.Lstat(p); p != "" && err == nil {
					return fmt.Errorf("%s: already exists; an authority key is never replaced (move it away yourself)", p)
				}
			}
			privJWK, err := signing.MarshalPrivateJWK(priv, kid)
			if err != nil {
				return err
			}
			if err := writeNew(out, 0o600, privJWK); err != nil {
				return err
			}
			if pubOut != "" {
				pubJWK, err := signing.MarshalPublicJWK(priv.Public(), kid)
				if err != nil {
					return err
				}
				if err := writeNew(pubOut, 0o644, pubJWK); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "authority key %s (%s) in %s\n", signing.FormatKeyID(kid), alg, out)
			if pubOut != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "public key in %s\n", pubOut)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "private key file to write (JWK, mode 0600; never replaced)")
	cmd.Flags().StringVar(&pubOut, "pub", "", "also write the public key here")
	cmd.Flags().StringVar(&algName, "alg", "ed25519", "signature algorithm")
	return cmd
}

// writeNew writes data and a newline to a file that must not exist yet
// (atomicfile.WriteNew: fsynced, renamed into place, never replacing).
func writeNew(path string, perm os.FileMode, data []byte) error {
	err := atomicfile.WriteNew(path, perm, atomicfile.Bytes(append(data, '\n')))
	if errors.Is(err, atomicfile.ErrExists) {
		return fmt.Errorf("%s: already exists; it is never replaced (move it away yourself)", path)
	}
	return err
}
