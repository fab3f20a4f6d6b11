package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/devices/twin"
	"github.com/spf13/cobra"
)

func newTwinCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "twin",
		Short: "Read device twins from the store",
		Long: `Read twin documents from the store file (--db, default signet.db):
reported state merged from verified messages, desired state set by verified
commands, the delta between them, the provenance of every reported and
desired value (meta.reported, meta.desired), each command's life
(meta.commands) and security counters. A twin stored in the older flat meta
shape is shown in the current one.

These commands read the file. A running signet serve holds it locked; while
it runs, read live twins from the broker instead ($twin/{zone}/{device}, one
whole document per version, or GET /api/v1/twins; see docs/twins.md).`,
		Example: `  signet twin get ts-4
  signet twin watch --zone z1`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", defaultDB, "store file")
	cmd.AddCommand(newTwinGetCmd(&db), newTwinWatchCmd(&db))
	return cmd
}

func newTwinGetCmd(db *string) *cobra.Command {
	return &cobra.Command{
		Use:   "get DEVICE",
		Short: "Print a device's twin document",
		Long: `Print a device's twin as stored, as indented JSON. A device that is enrolled
but has never sent an accepted message has an empty twin at version 0.`,
		Example: `  signet twin get ts-4 --db /var/lib/signet/signet.db`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openStore(*db, openRead)
			if err != nil {
				return err
			}
			defer s.Close()
			twins, err := loadTwins(cmd.Context(), s, "")
			if err != nil {
				return err
			}
			doc, ok := twins[args[0]]
			if !ok {
				return fmt.Errorf("unknown device %q (see signet device list)", args[0])
			}
			var out bytes.Buffer
			if err := json.Indent(&out, doc, "", "  "); err != nil {
				return fmt.Errorf("twin of %s: corrupt document: %w", args[0], err)
			}
			out.WriteByte('\n')
			_, err = cmd.OutOrStdout().Write(out.Bytes())
			return err
		},
	}
}

func newTwinWatchCmd(db *string) *cobra.Command {
	var zone string
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "watch [--zone ZONE] [--interval 1s] [--once]",
		Short: "Print twins, then every twin that changes, one JSON line each",
		Long: `Print every twin (of --zone, or all), one compact JSON document per line,
then poll the store file every --interval and print each twin whose document
changed since. --once prints the current twins and exits.

This follows the file, not the broker: each poll opens the store read-only
for a moment, so it sees what any process has written and closed (an import,
a broker that ran and stopped). A running signet serve keeps the file locked,
for readers too; watch then prints one "waiting for" line on standard error
and keeps trying, less often the longer it waits (up to every 30 s), until
the file is free or you press Ctrl-C; --once fails at once instead. For live
twins while the broker runs, subscribe to $twin/{zone}/+ on the broker
(one whole document per version).`,
		Example: `  signet twin watch --zone z1 --interval 5s
  signet twin watch --once | jq .reported`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return usagef("--interval %v: must be positive", interval)
			}
			if err := validZoneFlag(zone); err != nil {
				return err
			}
			return watchTwins(cmd.Context(), *db, zone, interval, once, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&zone, "zone", "", "only twins of this zone")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often to poll the store file")
	cmd.Flags().BoolVar(&once, "once", false, "print the current twins and exit")
	return cmd
}

// maxLockedWait bounds the back-off of twin watch while a broker holds the
// store: a watcher left running sees the file within this long of its
// broker stopping.
const maxLockedWait = 30 * time.Second

// watchTwins prints the current twins, then polls path until ctx ends. A
// store that another process holds is waited for (with back-off, saying so
// once per wait), from the first poll on; once=true fails instead.
func watchTwins(ctx context.Context, path, zone string, interval time.Duration, once bool, out, errOut io.Writer) error {
	last := map[string][]byte{}
	poll := func() error {
		s, err := boltstore.Open(path, boltstore.Options{ReadOnly: true, LockTimeout: min(interval/2, time.Second)})
		if err != nil {
			return err
		}
		defer s.Close()
		twins, err := loadTwins(ctx, s, zone)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(twins))
		for id := range twins {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if bytes.Equal(last[id], twins[id]) {
				continue
			}
			var line bytes.Buffer
			if err := json.Compact(&line, twins[id]); err != nil {
				return fmt.Errorf("twin of %s: corrupt document: %w", id, err)
			}
			line.WriteByte('\n')
			if _, err := out.Write(line.Bytes()); err != nil {
				return err
			}
			last[id] = twins[id]
		}
		return nil
	}
	wait, locked := interval, false
	for {
		err := poll()
		switch {
		case err == nil:
			if once {
				return nil
			}
			if locked {
				fmt.Fprintf(errOut, "signet: twin watch: store %s is free again; following it\n", path)
			}
			wait, locked = interval, false
		case once:
			return lockedHint(err)
		case errors.Is(err, boltstore.ErrLocked):
			if !locked {
				fmt.Fprintf(errOut, "signet: twin watch: waiting for store %s: %v; trying again, up to every %v, until it is free or Ctrl-C (for live twins subscribe to $twin/# on the broker)\n",
					path, err, max(interval, maxLockedWait))
			} else {
				wait = min(2*wait, max(interval, maxLockedWait))
			}
			locked = true
		default:
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// loadTwins returns the twin document of every device (of zone, if given),
// by device id. A device with no stored twin gets an empty one.
func loadTwins(ctx context.Context, s devices.Store, zone string) (map[string][]byte, error) {
	snap, err := s.Load(ctx)
	if err != nil {
		return nil, err
	}
	stored := make(map[string][]byte, len(snap.Twins))
	for _, t := range snap.Twins {
		stored[t.Device] = t.Doc
	}
	out := map[string][]byte{}
	for _, d := range snap.Devices {
		if zone != "" && d.Zone != zone {
			continue
		}
		if doc, ok := stored[d.ID]; ok {
			out[d.ID] = doc
			continue
		}
		doc, err := twin.New(d.ID, d.Zone, d.Kind).MarshalJSON()
		if err != nil {
			return nil, err
		}
		out[d.ID] = doc
	}
	return out, nil
}
