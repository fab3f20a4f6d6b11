package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/internal/atomicfile"
	"github.com/signet-city/signet/signing"
)

// defaultDB is the store file the registry commands use without --db.
const defaultDB = "signet.db"

func newDeviceCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Enrol, list, revoke and rotate the keys of devices in the registry",
		Long: `Manage the device registry in the store file (--db, default signet.db): which
devices exist, their zone and kind, and the public keys they sign with.

The store holds public keys only: a key file with a private part is refused.

While signet serve runs on the store it holds the file locked, for readers
too: give --api http://HOST:PORT (the broker's HTTP address) and the
credentials of an admin user (--token, or --user and --password; or
$SIGNET_TOKEN, $SIGNET_PASSWORD) and the command runs through the broker,
with immediate effect: an enrolled device may connect at once, a revoked one
is disconnected at once and its next message refused.`,
		Example: `  signet keygen --alg ed25519 --out sl-1.jwk --pub sl-1.pub.jwk
  signet device enroll --id sl-1 --zone z1 --kind streetlight --key sl-1.pub.jwk
  signet device list --zone z1
  signet device rotate sl-1 --key sl-1-2025.pub.jwk --grace 24h
  signet device revoke sl-1
  signet device revoke sl-1 --api http://edge:8080 --token "$SIGNET_TOKEN"`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", defaultDB, "store file")
	api := addAPIFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		newDeviceEnrollCmd(&db, api),
		newDeviceListCmd(&db, api),
		newDeviceShowCmd(&db, api),
		newDeviceRevokeCmd(&db, api),
		newDeviceRotateCmd(&db, api),
		newDeviceExportCmd(&db, api),
		newDeviceImportCmd(&db, api),
	)
	return cmd
}

func newDeviceEnrollCmd(db *string, api *apiFlags) *cobra.Command {
	var id, zone, kind, keyPath, paramsPath string
	var meta map[string]string
	var enrollment func() (devices.Device, error) // the flags as a device, checked
	cmd := &cobra.Command{
		Use:   "enroll --id ID --zone ZONE --kind KIND --key PUB.jwk [--params FILE] [--meta k=v,...]",
		Short: "Register a device and its public key",
		Long: `Register a new device: its id and zone ([a-z0-9-]{1,64}), its kind
(a device profile: traffic-signal, loop-detector, streetlight, air-quality),
and the public key it signs with (JWK or PEM; a private key is refused). The
kid is the key file's "kid", or derived from the public key. --params is a JSON
file of model parameters checked by the kind's profile (for a traffic signal:
its signal groups, conflict matrix and clearance times).`,
		Example: `  signet device enroll --id ts-4 --zone z1 --kind traffic-signal --key ts-4.pub.jwk --params ts-4.json
  signet device enroll --id sl-1 --zone z1 --kind streetlight --key sl-1.pub.jwk --meta pole=17`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := enrollment()
			if err != nil {
				return err
			}
			return withRegistry(cmd, *db, openCreate, func(reg *devices.Registry) error {
				if err := reg.Enroll(cmd.Context(), d); err != nil {
					return err
				}
				printEnrolled(cmd, d)
				return nil
			})
		},
	}
	enrollment = func() (devices.Device, error) {
		if id == "" || zone == "" || kind == "" || keyPath == "" {
			return devices.Device{}, usagef("device enroll needs --id, --zone, --kind and --key")
		}
		key, err := loadPublicKey(keyPath)
		if err != nil {
			return devices.Device{}, err
		}
		d := devices.Device{ID: id, Zone: zone, Kind: kind, Keys: []devices.Key{key}, Metadata: meta}
		if paramsPath != "" {
			if d.Params, err = readJSONFile(paramsPath); err != nil {
				return d, err
			}
		}
		return d, nil
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, _ []string, c *adminClient) error {
		d, err := enrollment()
		if err != nil {
			return err
		}
		if err := c.call(cmd.Context(), http.MethodPost, "/api/v1/devices", d, nil); err != nil {
			return fmt.Errorf("device %s: %w", d.ID, err)
		}
		printEnrolled(cmd, d)
		return nil
	})
	cmd.Flags().StringVar(&id, "id", "", "device id")
	cmd.Flags().StringVar(&zone, "zone", "", "zone the device publishes in")
	cmd.Flags().StringVar(&kind, "kind", "", "device kind (profile)")
	cmd.Flags().StringVar(&keyPath, "key", "", "public key file (JWK or PEM)")
	cmd.Flags().StringVar(&paramsPath, "params", "", "JSON file of model parameters")
	cmd.Flags().StringToStringVar(&meta, "meta", nil, "metadata, key=value pairs")
	return cmd
}

// printEnrolled is enrol's line, the same with and without --api.
func printEnrolled(cmd *cobra.Command, d devices.Device) {
	k := d.Keys[0]
	fmt.Fprintf(cmd.OutOrStdout(), "enrolled device %s (zone %s, %s) with key %s (%s)\n", d.ID, d.Zone, d.Kind, signing.FormatKeyID(k.KID), k.Alg)
}

func newDeviceListCmd(db *string, api *apiFlags) *cobra.Command {
	var zone string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--zone ZONE] [--json]",
		Short: "List devices, one line each",
		Example: `  signet device list
  signet device list --zone z1 --json`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validZoneFlag(zone); err != nil {
				return err
			}
			return withRegistry(cmd, *db, openRead, func(reg *devices.Registry) error {
				list, err := reg.Devices(cmd.Context(), zone)
				if err != nil {
					return err
				}
				return printDevices(cmd.OutOrStdout(), list, asJSON)
			})
		},
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, _ []string, c *adminClient) error {
		if err := validZoneFlag(zone); err != nil {
			return err
		}
		var all, list []devices.Device
		if err := c.call(cmd.Context(), http.MethodGet, "/api/v1/devices", nil, &all); err != nil {
			return err
		}
		for _, d := range all {
			if zone == "" || d.Zone == zone {
				list = append(list, d)
			}
		}
		return printDevices(cmd.OutOrStdout(), list, asJSON)
	})
	cmd.Flags().StringVar(&zone, "zone", "", "only devices of this zone")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// printDevices is list's output: a table, or JSON.
func printDevices(w io.Writer, list []devices.Device, asJSON bool) error {
	if asJSON {
		return writeJSON(w, nonNilSlice(list))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tZONE\tKIND\tKEYS")
	now := time.Now()
	for _, d := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Zone, d.Kind, keySummary(d.Keys, now))
	}
	return tw.Flush()
}

// keySummary says how many keys may sign now and how many may not.
func keySummary(keys []devices.Key, now time.Time) string {
	usable := 0
	for _, k := range keys {
		if k.Usable(now) {
			usable++
		}
	}
	s := fmt.Sprintf("%d usable", usable)
	if n := len(keys) - usable; n > 0 {
		s += fmt.Sprintf(", %d revoked or expired", n)
	}
	return s
}

func newDeviceShowCmd(db *string, api *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Print one device as JSON",
		Long:    `Print one device as JSON: the form "signet device export" writes.`,
		Example: `  signet device show sl-1`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRegistry(cmd, *db, openRead, func(reg *devices.Registry) error {
				d, err := reg.Device(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return writeJSON(cmd.OutOrStdout(), d)
			})
		},
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, args []string, c *adminClient) error {
		var d devices.Device
		if err := c.call(cmd.Context(), http.MethodGet, "/api/v1/devices/"+url.PathEscape(args[0]), nil, &d); err != nil {
			return fmt.Errorf("device %s: %w", args[0], err)
		}
		return writeJSON(cmd.OutOrStdout(), d)
	})
	return cmd
}

func newDeviceRevokeCmd(db *string, api *apiFlags) *cobra.Command {
	var kidText string
	cmd := &cobra.Command{
		Use:   "revoke ID | revoke --kid KID",
		Short: "Revoke every key of a device, or one key by kid",
		Long: `Revoke keys. With a device id, every key of that device: it stays in the
registry with its twin, but nothing it signs is accepted (reason "revoked").
With --kid, just that key, whoever holds it (device, operator or authority).
With --api the running broker refuses the keys at once and closes the
device's connected sessions; on the store file (broker stopped) a broker
started on it later refuses them.`,
		Example: `  signet device revoke sl-1
  signet device revoke --kid 3f1c0a9e5b7d2468
  signet device revoke sl-1 --api http://edge:8080 --token "$SIGNET_TOKEN"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (len(args) == 1) == (kidText != "") || len(args) > 1 {
				return usagef("device revoke takes a device id or --kid, not both")
			}
			return withRegistry(cmd, *db, openExisting, func(reg *devices.Registry) error {
				if kidText != "" {
					kid, err := signing.ParseKeyID(kidText)
					if err != nil {
						return fmt.Errorf("--kid: %w", err)
					}
					owner, err := reg.RevokeKey(cmd.Context(), kid)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s of %s\n", kidText, owner)
					return nil
				}
				d, err := reg.RevokeDevice(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked device %s (%d key(s))\n", d.ID, len(d.Keys))
				return nil
			})
		},
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, args []string, c *adminClient) error {
		if (len(args) == 1) == (kidText != "") || len(args) > 1 {
			return usagef("device revoke takes a device id or --kid, not both")
		}
		var res broker.AdminResult
		if kidText != "" {
			kid, err := signing.ParseKeyID(kidText)
			if err != nil {
				return fmt.Errorf("--kid: %w", err)
			}
			if err := c.call(cmd.Context(), http.MethodDelete, "/api/v1/keys/"+signing.FormatKeyID(kid), nil, &res); err != nil {
				return fmt.Errorf("key %s: %w", kidText, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s of %s; closed %d connected session(s)\n", kidText, res.Owner, res.SessionsClosed)
			return nil
		}
		if err := c.call(cmd.Context(), http.MethodDelete, "/api/v1/devices/"+url.PathEscape(args[0]), nil, &res); err != nil {
			return fmt.Errorf("device %s: %w", args[0], err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%d key(s)); closed %d connected session(s)\n", res.Owner, res.Keys, res.SessionsClosed)
		return nil
	})
	cmd.Flags().StringVar(&kidText, "kid", "", "revoke only this key (lower-case hex)")
	return cmd
}

func newDeviceRotateCmd(db *string, api *apiFlags) *cobra.Command {
	var keyPath string
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "rotate ID --key NEW.pub.jwk --grace DURATION",
		Short: "Add a new key to a device and end its old keys after a grace period",
		Long: `Add a new public key to a device. Its other usable keys keep working for
--grace (e.g. 24h, so devices in the field can switch over), then are refused
with reason "revoked". --grace 0 ends them at once.`,
		Example: `  signet device rotate sl-1 --key sl-1-new.pub.jwk --grace 24h`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" || !cmd.Flags().Changed("grace") {
				return usagef("device rotate needs --key and --grace")
			}
			if grace < 0 {
				return usagef("--grace %v: must not be negative", grace)
			}
			key, err := loadPublicKey(keyPath)
			if err != nil {
				return err
			}
			return withRegistry(cmd, *db, openExisting, func(reg *devices.Registry) error {
				d, err := reg.Rotate(cmd.Context(), args[0], key, grace)
				if err != nil {
					return err
				}
				printRotated(cmd, d, key)
				return nil
			})
		},
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, args []string, c *adminClient) error {
		if keyPath == "" || !cmd.Flags().Changed("grace") {
			return usagef("device rotate needs --key and --grace")
		}
		if grace < 0 {
			return usagef("--grace %v: must not be negative", grace)
		}
		key, err := loadPublicKey(keyPath)
		if err != nil {
			return err
		}
		keyJSON, err := json.Marshal(key)
		if err != nil {
			return err
		}
		var d devices.Device
		if err := c.call(cmd.Context(), http.MethodPost, "/api/v1/devices/"+url.PathEscape(args[0])+"/keys",
			broker.RotateRequest{Key: keyJSON, Grace: grace.String()}, &d); err != nil {
			return fmt.Errorf("device %s: %w", args[0], err)
		}
		printRotated(cmd, d, key)
		return nil
	})
	cmd.Flags().StringVar(&keyPath, "key", "", "the new public key file (JWK or PEM)")
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old keys stay valid")
	return cmd
}

// printRotated is rotate's lines: the new key and each old key's end.
func printRotated(cmd *cobra.Command, d devices.Device, key devices.Key) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "device %s: added key %s (%s)\n", d.ID, signing.FormatKeyID(key.KID), key.Alg)
	for _, k := range d.Keys[:len(d.Keys)-1] {
		if k.Status == devices.StatusActive && !k.NotAfter.IsZero() {
			fmt.Fprintf(out, "device %s: key %s valid until %s\n", d.ID, signing.FormatKeyID(k.KID), k.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}

func newDeviceExportCmd(db *string, api *apiFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export [--out FILE]",
		Short: "Write the whole registry and every key's high-water mark as JSON",
		Long: `Write devices, operators, control authorities and the high-water mark of
every key as one JSON document, for backup or to move a registry to another
edge box. The high-water marks matter: without them the new box would accept
again every message the old one already accepted.`,
		Example: `  signet device export --out registry.json`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRegistry(cmd, *db, openRead, func(reg *devices.Registry) error {
				if out == "" {
					return reg.Export(cmd.Context(), cmd.OutOrStdout())
				}
				return writeFileAtomic(out, func(w io.Writer) error { return reg.Export(cmd.Context(), w) })
			})
		},
	}
	viaAPI(cmd, api, func(cmd *cobra.Command, _ []string, c *adminClient) error {
		get := func(w io.Writer) error {
			_, err := c.download(cmd.Context(), "/api/v1/export", w)
			return err
		}
		if out == "" {
			return get(cmd.OutOrStdout())
		}
		return writeFileAtomic(out, get)
	})
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to FILE instead of standard output")
	return cmd
}

func newDeviceImportCmd(db *string, api *apiFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Add the records of an export to the registry, all or nothing",
		Long: `Read a document written by "signet device export" and add everything in it:
devices, operators, authorities and high-water marks. All of it is checked
first (ids, zones, kinds, keys, duplicate kids within the file and against the
store); then it is written in one transaction. On any error nothing is written.
Records that already exist are an error: import adds, it does not merge.`,
		Example: `  signet device import --db new.db registry.json`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			defer f.Close()
			return withRegistry(cmd, *db, openCreate, func(reg *devices.Registry) error {
				sum, err := reg.Import(cmd.Context(), args[0], f)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %d device(s), %d operator(s), %d authority(ies), %d high-water mark(s) from %s\n",
					sum.Devices, sum.Operators, sum.Authorities, sum.HighWater, args[0])
				return nil
			})
		},
	}
	viaAPI(cmd, api, func(*cobra.Command, []string, *adminClient) error {
		// An import brings high-water marks a running edge already holds in
		// memory; it is for a new box, before its broker first starts.
		return usagef("device import works on a store file only: import before the broker starts (--db), or enrol devices one by one with --api")
	})
	return cmd
}

// openMode says how a command opens the store.
type openMode int

const (
	openRead     openMode = iota // read-only; the file must exist
	openExisting                 // read-write; the file must exist
	openCreate                   // read-write; a missing file is created
)

// openStore opens the store file for a command.
func openStore(path string, mode openMode) (*boltstore.Store, error) {
	if mode == openExisting {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store %s: no such file (enrol a device first, or pass --db)", path)
		}
	}
	return boltstore.Open(path, boltstore.Options{ReadOnly: mode == openRead})
}

// withRegistry opens the store, runs fn on a Registry over it, and closes it.
// A store file that this call created is removed again if fn fails, so a
// failed first enrolment or import leaves nothing behind.
func withRegistry(cmd *cobra.Command, path string, mode openMode, fn func(*devices.Registry) error) error {
	_, statErr := os.Stat(path)
	created := mode == openCreate && errors.Is(statErr, os.ErrNotExist)
	s, err := openStore(path, mode)
	if err != nil {
		return err
	}
	err = fn(devices.NewRegistry(s, time.Now))
	if cerr := s.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store %s: %w", path, cerr)
	}
	if err != nil && created {
		os.Remove(path)
	}
	return err
}

// validZoneFlag checks a --zone filter against the SPEC §1 grammar: a zone
// that cannot exist is a typo, not an empty result.
func validZoneFlag(zone string) error {
	if zone == "" {
		return nil
	}
	if err := topic.ValidID("zone", zone); err != nil {
		return usagef("--zone: %v", err)
	}
	return nil
}

// loadPublicKey reads a key file and refuses private keys (devices.NewKey).
func loadPublicKey(path string) (devices.Key, error) {
	jwk, err := signing.LoadKeyFile(path)
	if err != nil {
		return devices.Key{}, err
	}
	return devices.NewKey(path, jwk)
}

// readJSONFile reads a file that must hold one JSON value.
func readJSONFile(path string) (json.RawMessage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("%s: not valid JSON", path)
	}
	return json.RawMessage(strings.TrimSpace(string(b))), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// writeFileAtomic writes path whole or not at all (an export, mode 0644).
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.Write(path, 0o644, write)
}
