// Package image is a simulated device's firmware image: who the device is,
// its model parameters, its private key, where its broker is, which control
// authorities it trusts, and where it keeps its counter. An image is a
// versioned JSON document written with mode 0600 (it holds a private key).
package image

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/internal/atomicfile"
	"github.com/signet-city/signet/signing"
)

// Version is the image format this code writes and reads.
const Version = 1

// Image is a flashed device.
type Image struct {
	Version     int               `json:"version"`
	Device      string            `json:"device"`
	Zone        string            `json:"zone"`
	Kind        string            `json:"kind"`
	Params      json.RawMessage   `json:"params,omitempty"`
	Key         json.RawMessage   `json:"key"`                   // private JWK
	Broker      string            `json:"broker"`                // tcp://host:port
	Authorities []json.RawMessage `json:"authorities,omitempty"` // public JWKs of the control authority
	CounterPath string            `json:"counter_path"`          // relative to the image's folder
	// API is the broker's HTTP address (http://host:port), when the device
	// was enrolled through it (signet flash --api): signet sim reads the
	// broker's /metrics there. Optional; the device itself never uses it.
	API string `json:"api,omitempty"`
	// LeaseBlock is the broker's lease block B (its lease_block); the
	// device skips 2·B counters on every (re)connect. Absent:
	// devices.DefaultLeaseBlock.
	LeaseBlock uint64 `json:"lease_block,omitempty"`
	// CA is the PEM CA bundle the device trusts for an ssl:// or tls://
	// broker (signet flash --ca), so that a broker with a private CA's
	// certificate can be reached. Absent: the system's roots (and
	// SSL_CERT_FILE) decide.
	CA string `json:"ca,omitempty"`

	key         *signing.JWK
	rootCAs     *x509.CertPool
	authorities command.Authorities
}

// AuthorityKeys returns the trusted control-authority keys by kid (after
// Load or Validate).
func (im *Image) AuthorityKeys() command.Authorities { return im.authorities }

// PrivateKey returns the image's decoded key (after Load or Validate).
func (im *Image) PrivateKey() *signing.JWK { return im.key }

// Validate checks every field; errors name the field.
func (im *Image) Validate() error {
	if im.Version != Version {
		return fmt.Errorf(`field "version": %d, this signet reads version %d`, im.Version, Version)
	}
	if err := topic.ValidID(`field "device"`, im.Device); err != nil {
		return err
	}
	if err := topic.ValidID(`field "zone"`, im.Zone); err != nil {
		return err
	}
	p, ok := kinds.Lookup(im.Kind)
	if !ok {
		return fmt.Errorf(`field "kind": %q is not one of %v`, im.Kind, kinds.Kinds())
	}
	if err := p.ValidateParams(im.Params); err != nil {
		return fmt.Errorf(`field "params": %w`, err)
	}
	k, err := signing.ParseJWK(im.Key)
	if err != nil {
		return fmt.Errorf(`field "key": %w`, err)
	}
	if k.Private == nil {
		return errors.New(`field "key": a public key; the device needs its private key`)
	}
	im.key = k
	u, err := url.Parse(im.Broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "ws") || u.Host == "" {
		return fmt.Errorf(`field "broker": %q is not tcp://host:port, ssl://host:port, tls://host:port or ws://host:port`, im.Broker)
	}
	im.rootCAs = nil
	if im.CA != "" {
		if im.rootCAs, err = parseCA(im.CA); err != nil {
			return fmt.Errorf(`field "ca": %w`, err)
		}
	}
	if im.API != "" {
		if err := ValidAPI(im.API); err != nil {
			return fmt.Errorf(`field "api": %w`, err)
		}
	}
	im.authorities = command.Authorities{}
	for i, a := range im.Authorities {
		ak, err := signing.ParseJWK(a)
		if err != nil {
			return fmt.Errorf(`field "authorities[%d]": %w`, i, err)
		}
		if ak.Private != nil {
			return fmt.Errorf(`field "authorities[%d]": holds a private key; flash the authority's public key only`, i)
		}
		im.authorities.Add(ak.Public, ak.KID)
	}
	if im.CounterPath == "" {
		return errors.New(`field "counter_path": empty`)
	}
	if err := devices.ValidLeaseBlock(im.LeaseBlock); err != nil {
		return fmt.Errorf(`field "lease_block": %w`, err)
	}
	return nil
}

// ValidAPI checks a broker HTTP address: http:// or https://, a host, and no
// path beyond "/" (the API's paths are added to it).
func ValidAPI(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("%q is not http://host:port or https://host:port", s)
	}
	return nil
}

// Load reads and validates an image. Errors name the file. An image that
// other users could read is refused, as ssh refuses such a private key: its
// key must be treated as leaked.
func Load(path string) (*Image, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("image %s: no such file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("image %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("image %s: mode %04o lets other users read its private key (chmod 600 %s, or re-flash if it was exposed)", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("image %s: empty file (flash it again)", path)
	}
	var im Image
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&im); err != nil {
		return nil, fmt.Errorf("image %s: not a firmware image (truncated or damaged JSON; flash it again): %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("image %s: trailing data after the image (damaged; flash it again)", path)
	}
	if err := im.Validate(); err != nil {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	if !filepath.IsAbs(im.CounterPath) {
		im.CounterPath = filepath.Join(filepath.Dir(path), im.CounterPath)
	}
	return &im, nil
}

// Save validates im and writes it to path with mode 0600, atomically.
// It refuses to replace an image unless force is set: a re-flashed device
// gets a new key, and the old image's counter would be lost.
func Save(path string, im *Image, force bool) error {
	if err := im.Validate(); err != nil {
		return fmt.Errorf("image %s: %w", path, err)
	}
	if !force {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("image %s: already exists (use --force to re-flash)", path)
		}
	}
	data, err := json.MarshalIndent(im, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, 0o600, atomicfile.Bytes(append(data, '\n'))); err != nil {
		return fmt.Errorf("image %w", err)
	}
	return nil
}
