package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/firmware-sim/fleet"
	"github.com/signet-city/signet/firmware-sim/image"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/signing"
)

func newFlashCmd() *cobra.Command {
	var f flashArgs
	var fleetPath string
	cmd := &cobra.Command{
		Use:   "flash --device ID --kind KIND --zone ZONE --broker URL --out images/ID.img [--db signet.db | --api URL --token T]",
		Short: "Flash a simulated device (or a district with --fleet) and enroll its key",
		Long: `Write a firmware image for a simulated device: its id, zone and kind, model
parameters (--params, or the default signal plan for a traffic signal), a
private key (generated with --alg, or --key), the broker URL, the control
authority's public keys (--authority, repeatable) and the path of its counter
store. The image holds a private key and is written with mode 0600. For an
ssl:// or tls:// broker whose certificate a private CA signed, --ca FILE writes
that CA (PEM) into the image and the device trusts it rather than the system's
roots.

A device checks every command itself against the authority keys it was
flashed with, so a device of a kind that takes commands (docs/commands-catalogue.md)
needs --authority; flashing one without is refused unless --no-commands says
that it should ignore every command.

With --db the public key is enrolled in that registry (the broker must not be
running on it). With --api the running broker enrols it through its HTTP API
(POST /api/v1/devices, as a user with the admin role: --token, or --user and
--password), takes it at once, and the image records the API's address so
that signet sim can read the broker's /metrics. Give at most one of --db and
--api; with neither, nothing is enrolled. With --fleet city.yaml a whole district is flashed into the
folder --out:

  broker: tcp://127.0.0.1:1883
  zones:
    - name: downtown
      intersections: 12     # a traffic signal and a loop detector each
      streetlights: 6
      air_quality: 6`,
		Example: `  signet flash --device tl-01 --kind traffic-signal --zone downtown --broker tcp://127.0.0.1:1883 --out images/tl-01.img --db signet.db
  signet flash --device sl-07 --kind streetlight --zone downtown --broker tcp://edge:1883 --out images/sl-07.img --api http://edge:8080 --token "$SIGNET_TOKEN"
  signet flash --fleet city.yaml --out images/ --db signet.db`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkEnrolment(); err != nil {
				return err
			}
			if fleetPath != "" {
				return flashFleet(cmd, fleetPath, f)
			}
			if f.device == "" || f.kind == "" || f.zone == "" || f.broker == "" || f.out == "" {
				return usagef("flash needs --device, --kind, --zone, --broker and --out (or --fleet)")
			}
			im, err := f.image(f.device, f.zone, f.kind, f.params)
			if err != nil {
				return err
			}
			if err := f.checkCommands(im.Kind); err != nil {
				return err
			}
			if err := f.write(cmd, []*image.Image{im}, []string{f.out}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "flashed %s (%s, zone %s) kid %s -> %s\n", im.Device, im.Kind, im.Zone, signing.FormatKeyID(im.PrivateKey().KID), f.out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.device, "device", "", "device id ([a-z0-9-]{1,64})")
	fl.StringVar(&f.kind, "kind", "", "traffic-signal, loop-detector, streetlight or air-quality")
	fl.StringVar(&f.zone, "zone", "", "zone ([a-z0-9-]{1,64})")
	fl.StringVar(&f.broker, "broker", "", "broker URL, tcp://host:port")
	fl.StringVar(&f.ca, "ca", "", "PEM CA bundle the device trusts for an ssl:// or tls:// broker (written into the image)")
	fl.StringVar(&f.algName, "alg", "ed25519", "key algorithm when generating")
	fl.StringVar(&f.keyPath, "key", "", "use this private key instead of generating one")
	fl.StringVar(&f.paramsPath, "params", "", "model parameters (JSON file)")
	fl.StringArrayVar(&f.authorities, "authority", nil, "control authority public key (JWK), repeatable")
	fl.BoolVar(&f.noCommands, "no-commands", false, "flash without --authority: the device ignores every command")
	fl.StringVarP(&f.out, "out", "o", "", "image file (or folder, with --fleet)")
	fl.StringVar(&f.db, "db", "", "enroll the public key in this registry")
	fl.StringVar(&f.api, "api", "", "enroll the public key through this broker's HTTP API, http://HOST:PORT")
	fl.StringVar(&f.token, "token", "", "bearer token of an admin user, for --api")
	fl.StringVar(&f.user, "user", "", "admin user name, for --api (with --password)")
	fl.StringVar(&f.password, "password", "", "the --user's password, for --api")
	fl.BoolVar(&f.force, "force", false, "replace existing images")
	fl.StringVar(&fleetPath, "fleet", "", "flash every device of a fleet file into --out")
	return cmd
}

type flashArgs struct {
	device, kind, zone, broker, algName, keyPath, paramsPath, out, db string
	api, token, user, password                                        string
	ca                                                                string // --ca: PEM CA bundle written into the image
	authorities                                                       []string
	force, noCommands                                                 bool
	params                                                            json.RawMessage
}

// checkEnrolment checks the enrolment flags before anything is generated:
// one registry at most, and --api with one way to authenticate.
func (f *flashArgs) checkEnrolment() error {
	if f.api == "" {
		for _, fl := range []struct{ name, val string }{{"--token", f.token}, {"--user", f.user}, {"--password", f.password}} {
			if fl.val != "" {
				return usagef("%s is for --api; pass --api http://HOST:PORT too", fl.name)
			}
		}
		return nil
	}
	if f.db != "" {
		return usagef("--db and --api are exclusive: enrol in a registry file (broker stopped) or through a running broker, not both")
	}
	if err := image.ValidAPI(f.api); err != nil {
		return usagef("--api: %v", err)
	}
	switch {
	case f.token != "" && (f.user != "" || f.password != ""):
		return usagef("--token and --user/--password are exclusive: authenticate one way")
	case f.token == "" && f.user == "" && f.password == "":
		return usagef("--api needs credentials of an admin user: --token, or --user and --password")
	case f.token == "" && (f.user == "" || f.password == ""):
		return usagef("--user and --password go together")
	}
	return nil
}

// checkCommands refuses to flash a device of a kind that takes commands
// without an authority key to check them with, unless --no-commands asks
// for exactly that: such a device refuses every command, silently to
// whoever flashed it.
func (f *flashArgs) checkCommands(kind string) error {
	k, takes := catalog.Lookup(kind)
	switch {
	case f.noCommands && len(f.authorities) > 0:
		return usagef("--no-commands and --authority are exclusive: a device either checks commands with the authority's keys or ignores them")
	case takes && len(f.authorities) == 0 && !f.noCommands:
		return usagef("a %s takes commands (%s) and checks each against its control authority's key: give --authority authority.pub.jwk, or --no-commands for a device that ignores every command", kind, strings.Join(k.Names(), ", "))
	}
	return nil
}

// image builds and validates one image (nothing is written).
func (f *flashArgs) image(device, zone, kind string, params json.RawMessage) (*image.Image, error) {
	if f.paramsPath != "" && params == nil {
		b, err := os.ReadFile(f.paramsPath)
		if err != nil {
			return nil, fmt.Errorf("params %s: %w", f.paramsPath, err)
		}
		params = b
	}
	if params == nil && kind == "traffic-signal" {
		params = model.DefaultSignalPlan
	}
	var priv signing.PrivateKey
	var kid []byte
	if f.keyPath != "" {
		k, err := signing.LoadKeyFile(f.keyPath)
		if err != nil {
			return nil, err
		}
		if k.Private == nil {
			return nil, fmt.Errorf("key file %s: a public key; flashing needs the device's private key", f.keyPath)
		}
		priv, kid = k.Private, k.KID
	} else {
		alg, err := signing.ParseAlg(f.algName)
		if err != nil {
			return nil, usagef("--alg: %v", err)
		}
		if priv, err = signing.GenerateKey(alg); err != nil {
			return nil, err
		}
	}
	if kid == nil {
		kid = signing.KeyID(priv.Public())
	}
	keyJSON, err := signing.MarshalPrivateJWK(priv, kid)
	if err != nil {
		return nil, err
	}
	im := &image.Image{Version: image.Version, Device: device, Zone: zone, Kind: kind, Params: params,
		Key: keyJSON, Broker: f.broker, CounterPath: device + ".ctr", API: strings.TrimSuffix(f.api, "/")}
	for _, a := range f.authorities {
		b, err := os.ReadFile(a)
		if err != nil {
			return nil, fmt.Errorf("authority %s: %w", a, err)
		}
		im.Authorities = append(im.Authorities, bytes.TrimSpace(b))
	}
	if f.ca != "" {
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		if err := im.SetCA(b); err != nil {
			return nil, fmt.Errorf("--ca %s: %w", f.ca, err)
		}
	}
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", device, err)
	}
	return im, nil
}

// write checks nothing would be overwritten, enrolls every key (one device
// at a time; stopping at the first error), then saves the images.
func (f *flashArgs) write(cmd *cobra.Command, ims []*image.Image, paths []string) error {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil && !f.force {
			return fmt.Errorf("image %s: already exists (use --force to re-flash)", p)
		}
	}
	if f.api != "" {
		return f.enrollOverAPI(cmd, ims, paths)
	}
	if f.db != "" {
		err := withRegistry(cmd, f.db, openCreate, func(reg *devices.Registry) error {
			for _, im := range ims {
				if err := reg.Enroll(cmd.Context(), registryDevice(im)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i, im := range ims {
		if err := os.MkdirAll(filepath.Dir(paths[i]), 0o700); err != nil {
			return err
		}
		if err := image.Save(paths[i], im, f.force); err != nil {
			return err
		}
	}
	return nil
}

// registryDevice is what the registry holds of an image: no private key.
func registryDevice(im *image.Image) devices.Device {
	k := im.PrivateKey()
	pub := k.Private.Public()
	return devices.Device{ID: im.Device, Zone: im.Zone, Kind: im.Kind, Params: im.Params, Keys: []devices.Key{{
		KID: k.KID, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
	}}}
}

// enrollOverAPI enrols each device through the broker's HTTP API and saves
// its image right after. There is no transaction across HTTP calls, so the
// images are written one by one: if one device is refused, every device
// enrolled before it has its image (no enrolled key is left without its
// private half), and the error says how far it got.
func (f *flashArgs) enrollOverAPI(cmd *cobra.Command, ims []*image.Image, paths []string) error {
	client := &http.Client{Timeout: 30 * time.Second}
	endpoint := strings.TrimSuffix(f.api, "/") + "/api/v1/devices"
	for i, im := range ims {
		if err := f.postDevice(cmd.Context(), client, endpoint, registryDevice(im)); err != nil {
			if i > 0 {
				return fmt.Errorf("%w (the %d devices before %s are enrolled and their images written)", err, i, im.Device)
			}
			return err
		}
		if err := os.MkdirAll(filepath.Dir(paths[i]), 0o700); err != nil {
			return err
		}
		if err := image.Save(paths[i], im, f.force); err != nil {
			return err
		}
	}
	return nil
}

// postDevice sends one device to POST /api/v1/devices and turns a refusal
// into one line: the broker's own line, and what to do about the status.
func (f *flashArgs) postDevice(ctx context.Context, client *http.Client, endpoint string, d devices.Device) error {
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--api %s: %w", f.api, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if f.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.token)
	} else {
		req.SetBasicAuth(f.user, f.password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("--api %s: device %s: %w", f.api, d.ID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line := strings.Join(strings.Fields(string(msg)), " ")
	hint := map[int]string{
		http.StatusUnauthorized: "; check --token, or --user and --password",
		http.StatusForbidden:    "; the user needs the admin role",
		http.StatusNotFound:     "; is --api the broker's HTTP address?",
		http.StatusConflict:     "; flash it with a new --device id, or revoke the old one",
	}[resp.StatusCode]
	return fmt.Errorf("--api %s: device %s: %s (HTTP %d)%s", f.api, d.ID, line, resp.StatusCode, hint)
}

// fleetFile is the --fleet document.
type fleetFile struct {
	Broker string `yaml:"broker"`
	Zones  []struct {
		Name          string `yaml:"name"`
		Intersections int    `yaml:"intersections"`
		Streetlights  int    `yaml:"streetlights"`
		AirQuality    int    `yaml:"air_quality"`
	} `yaml:"zones"`
}

func flashFleet(cmd *cobra.Command, path string, f flashArgs) error {
	if f.out == "" {
		return usagef("--fleet needs --out FOLDER")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("fleet %s: no such file", path)
		}
		return err
	}
	var ff fleetFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ff); err != nil {
		return fmt.Errorf("fleet %s: %v", path, err)
	}
	if ff.Broker == "" || len(ff.Zones) == 0 {
		return fmt.Errorf("fleet %s: needs broker and at least one zone", path)
	}
	f.broker = ff.Broker
	var ims []*image.Image
	var paths []string
	for _, z := range ff.Zones {
		var specs []fleet.Spec
		for i := 1; i <= z.Intersections; i++ {
			specs = append(specs, fleet.Spec{ID: fmt.Sprintf("%s-tl-%02d", z.Name, i), Kind: "traffic-signal", Params: model.DefaultSignalPlan},
				fleet.Spec{ID: fmt.Sprintf("%s-ld-%02d", z.Name, i), Kind: "loop-detector"})
		}
		for i := 1; i <= z.Streetlights; i++ {
			specs = append(specs, fleet.Spec{ID: fmt.Sprintf("%s-sl-%02d", z.Name, i), Kind: "streetlight"})
		}
		for i := 1; i <= z.AirQuality; i++ {
			specs = append(specs, fleet.Spec{ID: fmt.Sprintf("%s-aq-%02d", z.Name, i), Kind: "air-quality"})
		}
		for _, s := range specs {
			im, err := f.image(s.ID, z.Name, s.Kind, s.Params)
			if err != nil {
				return fmt.Errorf("fleet %s: %w", path, err)
			}
			if err := f.checkCommands(im.Kind); err != nil {
				return err
			}
			ims = append(ims, im)
			paths = append(paths, filepath.Join(f.out, s.ID+".img"))
		}
	}
	if err := f.write(cmd, ims, paths); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "flashed %d devices into %s\n", len(ims), f.out)
	return nil
}
