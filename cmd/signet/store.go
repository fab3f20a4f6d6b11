package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/signet-city/signet/internal/atomicfile"
)

func newStoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Check or back up a store file",
		Long: `Check a store file's consistency, or copy it to a backup.

Both open the store read-only and never change it. A broker holds its store
exclusively while it runs, for readers too: back it up through the broker
with "signet store backup --api URL --out FILE", or stop it first.`,
	}
	cmd.AddCommand(newStoreCheckCmd(), newStoreBackupCmd(), newStoreMigrateCmd())
	return cmd
}

func newStoreCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check STORE",
		Short: "Check every page of a store (exit 1 if it is corrupt)",
		Long: `Walk every page of a store file and check its structure (bbolt's
consistency check). Prints one line per problem and exits 1 if there is any;
restore a corrupt store from a backup ("signet store backup").`,
		Example: "  signet store check /var/lib/signet/signet.db",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			var problems int
			err := withStore(path, func(tx *bolt.Tx) error {
				for err := range tx.Check() {
					problems++
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %v\n", path, err)
				}
				if problems == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d bytes, transaction %d)\n", path, tx.Size(), tx.ID())
				}
				return nil
			})
			if err != nil {
				return err
			}
			if problems > 0 {
				return fmt.Errorf("store %s is corrupt (%d problems): restore it from a backup", path, problems)
			}
			return nil
		},
	}
}

func newStoreBackupCmd() *cobra.Command {
	var out string
	var force bool
	var api *apiFlags
	cmd := &cobra.Command{
		Use:   "backup STORE --out FILE | backup --api URL --out FILE",
		Short: "Copy a store to a backup file (consistent, mode 0600)",
		Long: `Copy a store file, in one read transaction, to --out (written to a
temporary file, fsynced and renamed, mode 0600). The copy is itself a store:
"signet store check FILE" checks it, and a broker can start on it.

With --api the running broker makes the copy (an admin user: --token, or
--user and --password), online: it keeps serving, and the copy is the store
as of one instant.`,
		Example: `  signet store backup signet.db --out backups/signet-$(date +%F).db
  signet store backup --api http://127.0.0.1:8080 --token "$SIGNET_TOKEN" --out backups/signet-$(date +%F).db`,
		Args: func(cmd *cobra.Command, args []string) error {
			if api.set() {
				return exactArgs(0)(cmd, args)
			}
			return exactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out: the backup file is required")
			}
			if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
				return fmt.Errorf("backup %s: %w", out, err)
			}
			write := atomicfile.WriteNew
			if force {
				write = atomicfile.Write
			}
			var path string
			var copied int64
			var err error
			if api.set() {
				c, cerr := api.client(cmd)
				if cerr != nil {
					return cerr
				}
				path = "the broker at " + c.base
				err = write(out, 0o600, func(w io.Writer) error {
					var derr error
					copied, derr = c.download(cmd.Context(), "/api/v1/store/backup", w)
					return derr
				})
			} else {
				if err := api.checkNoAPICredentials(); err != nil {
					return err
				}
				path = args[0]
				err = withStore(path, func(tx *bolt.Tx) error {
					copied = tx.Size()
					return write(out, 0o600, func(w io.Writer) error {
						_, err := tx.WriteTo(w)
						return err
					})
				})
			}
			if errors.Is(err, atomicfile.ErrExists) {
				return fmt.Errorf("backup %s: already exists (--force replaces it)", out)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s to %s (%d bytes)\n", path, out, copied)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the backup file")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing backup file")
	api = addAPIFlags(cmd.Flags())
	return cmd
}

// withStore runs fn in a read transaction of the bbolt file at path, opened
// read-only. A file that is not a store, is locked by a running broker or is
// so damaged that reading it panics is one error naming it and what to do.
func withStore(path string, fn func(*bolt.Tx) error) (err error) {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store %s is held by a running broker: stop it first, or back it up through the broker with --api", path)
	case err != nil:
		return fmt.Errorf("store %s cannot be opened (%v): it is not a store, or it is corrupt; restore it from a backup", path, err)
	}
	defer db.Close()
	defer func() {
		// bbolt panics on some damaged pages instead of returning an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("store %s is corrupt (%v): restore it from a backup", path, r)
		}
	}()
	return db.View(fn)
}
