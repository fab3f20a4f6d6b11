package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Make bearer tokens for the HTTP API and the dashboard",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "new",
		Short: "Print a new random bearer token and the token_sha256 line for its user",
		Long: `Print a new random bearer token (256 bits from the system's CSPRNG, as
lower-case hex) and the token_sha256 line to put under the user it belongs to
in the broker's configuration. The broker keeps only the hash; the token is
shown once, so store it where its user will find it.

Hashing a token by hand with "echo TOKEN | sha256sum" hashes a newline too:
every request would then fail as "unknown bearer token". Use this command, or
"printf %s TOKEN | sha256sum".`,
		Example: `  signet token new`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var secret [32]byte
			rand.Read(secret[:]) // never fails (crypto/rand, Go 1.24+)
			token := hex.EncodeToString(secret[:])
			sum := sha256.Sum256([]byte(token))
			fmt.Fprintf(cmd.OutOrStdout(), "token:        %s\ntoken_sha256: %s\n", token, hex.EncodeToString(sum[:]))
			return nil
		},
	})
	return cmd
}
