package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/devices/natsstore"
)

func newStoreMigrateCmd() *cobra.Command {
	var from, to, creds, ca string
	var replicas int
	cmd := &cobra.Command{
		Use:   "migrate --from STORE --to nats://host:4222[,...]",
		Short: "Copy a bbolt store into JetStream, for brokers that share one",
		Long: `Copy everything in a bbolt store (registry, counter bounds, twins) into a
NATS JetStream cluster that holds no registry yet, creating its buckets and
streams. Stop the broker on the bbolt store first: it holds the file, and a
counter it accepted after the copy would be missing from it. The bbolt file
is only read.`,
		Example: "  signet store migrate --from /var/lib/signet/signet.db --to nats://10.0.0.1:4222,nats://10.0.0.2:4222 --nats-creds signet.creds",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || !natsstore.IsURL(to) {
				return usagef("store migrate: give --from a bbolt store and --to nats://host:4222[,...]")
			}
			src, err := boltstore.Open(from, boltstore.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := natsstore.Open(cmd.Context(), natsstore.Options{Servers: to, CredsFile: creds, CAFile: ca, Replicas: replicas})
			if err != nil {
				return err
			}
			defer dst.Close()
			snap, err := natsstore.Migrate(cmd.Context(), src, dst)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signet: copied %s into %s: %d devices, %d operators, %d authorities, %d counter bounds, %d twins\n",
				from, to, len(snap.Devices), len(snap.Operators), len(snap.Authorities), len(snap.Windows), len(snap.Twins))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "bbolt store file to copy")
	f.StringVar(&to, "to", "", "NATS servers, nats://host:4222[,...]")
	f.StringVar(&creds, "nats-creds", "", "NATS credentials file")
	f.StringVar(&ca, "nats-ca", "", "PEM CA bundle verifying the NATS servers' TLS certificates")
	f.IntVar(&replicas, "replicas", 0, "replication factor of the buckets and streams created (0: 3)")
	return cmd
}
