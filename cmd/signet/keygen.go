package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

func newKeygenCmd() *cobra.Command {
	var algName, out, pubOut, kidHex string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --alg ALG --out KEY.jwk [--pub KEY.pub.jwk]",
		Short: "Generate a signing key (JWK, mode 0600)",
		Long: `Generate a private signing key and write it as a JWK (RFC 7517) with file
mode 0600. --pub also writes the public half, which is what "signet device
enroll" takes: the edge never holds private keys.

The kid is the first 16 bytes of the key's RFC 7638 thumbprint, in hex, unless
--kid gives one (hex, 1..32 bytes).

Algorithms: ed25519 (-19), eddsa (-8, Ed25519 key), ed448, es256, ml-dsa-44,
ml-dsa-65, ml-dsa-87.`,
		Example: `  signet keygen --alg ed25519 --out tl-0001.jwk --pub tl-0001.pub.jwk
  signet keygen --alg es256 --out se-7.jwk --kid 0a0b0c`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			alg, err := signing.ParseAlg(algName)
			if err != nil {
				return usagef("--alg: %v", err)
			}
			if out == "" {
				return usagef("--out is required: a private key is never printed to the terminal")
			}
			var kid []byte
			if kidHex != "" {
				if kid, err = signing.ParseKeyID(kidHex); err != nil {
					return usagef("--kid: %v", err)
				}
			}
			// Like flash, keygen makes the folders it writes into; a
			// private key's folder is the owner's alone.
			for _, f := range []struct {
				path string
				perm os.FileMode
			}{{out, 0o700}, {pubOut, 0o755}} {
				if dir := filepath.Dir(f.path); f.path != "" {
					if err := os.MkdirAll(dir, f.perm); err != nil {
						return fmt.Errorf("creating the folder for %s: %w", f.path, err)
					}
				}
			}
			priv, err := signing.GenerateKey(alg)
			if err != nil {
				return err
			}
			if kid == nil {
				kid = signing.KeyID(priv.Public())
			}
			if err := signing.SavePrivateKeyFile(out, priv, kid, force); err != nil {
				return err
			}
			if pubOut != "" {
				if err := signing.SavePublicKeyFile(pubOut, priv.Public(), kid, force); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "alg %s\nkid %s\n", alg, signing.FormatKeyID(kid))
			return nil
		},
	}
	cmd.Flags().StringVar(&algName, "alg", "ed25519", "signature algorithm")
	cmd.Flags().StringVarP(&out, "out", "o", "", "private key file to write (JWK, mode 0600)")
	cmd.Flags().StringVar(&pubOut, "pub", "", "also write the public key here")
	cmd.Flags().StringVar(&kidHex, "kid", "", "key id in hex (default: from the RFC 7638 thumbprint)")
	cmd.Flags().BoolVar(&force, "force", false, "replace existing files")
	return cmd
}
