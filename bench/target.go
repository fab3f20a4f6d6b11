package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
)

// The brokers under test. Each is measured with the same corpus and driver.
const (
	// ModePlain is mochi with no Signet hooks: any client may publish
	// anything (mochi's allow-all auth hook).
	ModePlain = "plain"
	// ModeNaive is mochi with NaiveHook: parse each envelope and
	// crypto/ed25519.Verify it inline in OnPublish (no replay window, no
	// store, no batching).
	ModeNaive = "naive"
	// ModeBatch is mochi with BatchHook: parse each envelope and verify it
	// through Signet's batching Verifier, as strict does, and nothing else
	// (no replay window, store, twins or limits). It is the floor broker:
	// what strict would cost if checking a message were only its signature.
	ModeBatch = "batch"
	// ModeRelaxed and ModeStrict are the real Signet broker (broker.New:
	// access, verify and twin hooks, the batching verifier, a bbolt store
	// in a temporary directory) with relaxed or strict durability.
	ModeRelaxed = "relaxed"
	ModeStrict  = "strict"
	// ModeMosquitto is Debian's mosquitto, when installed (see
	// StartMosquitto); it runs only as its own process.
	ModeMosquitto = "mosquitto"
)

// TargetModes are the modes StartTarget serves.
var TargetModes = []string{ModePlain, ModeNaive, ModeBatch, ModeRelaxed, ModeStrict, ModeStrictNATS}

// The users a Signet target knows (with TargetOptions.Password): the
// driver's subscriber logs in as the admin, gateway connections as the
// gateway of every zone.
const (
	TargetAdminUser   = "bench-admin"
	TargetGatewayUser = "bench-gw"
)

// TargetOptions describes a broker under test.
type TargetOptions struct {
	Mode     string
	Addr     string           // MQTT listen address, e.g. 127.0.0.1:0
	Devices  []devices.Device // enrolled in Signet's store; keys for the naive hook
	Password string           // for TargetAdminUser and TargetGatewayUser (Signet modes)
	// PasswordHash is Password's argon2id hash, if already made (hashing
	// is deliberately slow; "": hash Password).
	PasswordHash string
	Dir          string // for Signet's store ("": a new temporary directory)
	Logger       *slog.Logger
}

// Target is a running broker under test.
type Target struct {
	addr    string
	metrics prometheus.Gatherer // nil: no Signet metrics
	close   func(context.Context) error
}

// Addr is the address the broker listens on.
func (t *Target) Addr() string { return t.addr }

// Metrics gathers a Signet broker's metrics (for batch, only its
// Verifier's; nil for plain and naive).
func (t *Target) Metrics() prometheus.Gatherer { return t.metrics }

// Close stops the broker and removes its temporary state.
func (t *Target) Close(ctx context.Context) error { return t.close(ctx) }

// StartTarget starts a broker of o.Mode in this process.
func StartTarget(ctx context.Context, o TargetOptions) (*Target, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch o.Mode {
	case ModePlain, ModeNaive, ModeBatch:
		return startMochi(o)
	case ModeRelaxed, ModeStrict, ModeStrictNATS:
		return startSignet(ctx, o)
	}
	return nil, fmt.Errorf("target mode %q: want one of %v", o.Mode, TargetModes)
}

// startMochi serves plain mochi, with the naive hook in ModeNaive and the
// batch hook in ModeBatch. Its options are those broker.New gives mochi.
func startMochi(o TargetOptions) (*Target, error) {
	srv := mqtt.New(broker.MochiOptions(0, o.Logger))
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, err
	}
	var hook mqtt.Hook
	var metrics prometheus.Gatherer
	switch o.Mode {
	case ModeNaive:
		h, err := NewNaiveHook(o.Devices)
		if err != nil {
			return nil, err
		}
		hook = h
	case ModeBatch:
		h, err := NewBatchHook(o.Devices)
		if err != nil {
			return nil, err
		}
		reg := prometheus.NewRegistry()
		broker.RegisterVerifierMetrics(reg, h.verifier)
		hook, metrics = h, reg
	}
	if hook != nil {
		if err := srv.AddHook(hook, nil); err != nil {
			return nil, err
		}
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: o.Addr})
	if err := srv.AddListener(broker.ShutdownSafe(srv, tcp)); err != nil {
		return nil, fmt.Errorf("target %s: listen %s: %w", o.Mode, o.Addr, err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("target %s: %w", o.Mode, err)
	}
	return &Target{addr: tcp.Address(), metrics: metrics, close: func(context.Context) error { return srv.Close() }}, nil
}

// startSignet enrolls the devices in a fresh store and starts the real
// broker on it.
func startSignet(ctx context.Context, o TargetOptions) (*Target, error) {
	dir, cleanup := o.Dir, func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "signet-bench-")
		if err != nil {
			return nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	}
	if o.Mode == ModeStrictNATS {
		return startSignetNATS(ctx, o, dir, cleanup) // target_nats.go
	}
	path := filepath.Join(dir, "signet.db")
	if err := enroll(ctx, path, o.Devices); err != nil {
		cleanup()
		return nil, err
	}
	cfg, err := targetConfig(o, path)
	if err != nil {
		cleanup()
		return nil, err
	}
	srv, err := broker.New(ctx, cfg, o.Logger)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("target %s: %w", o.Mode, err)
	}
	if err := srv.Start(); err != nil {
		cleanup()
		return nil, errors.Join(fmt.Errorf("target %s: %w", o.Mode, err), srv.Shutdown(ctx))
	}
	return &Target{addr: srv.MQTTAddr(), metrics: srv.Metrics(), close: func(ctx context.Context) error {
		defer cleanup()
		return srv.Shutdown(ctx)
	}}, nil
}

// targetConfig is the Signet broker's config under test, on store.
func targetConfig(o TargetOptions, store string) (broker.Config, error) {
	hash := o.PasswordHash
	if hash == "" {
		var err error
		if hash, err = broker.HashPassword(o.Password); err != nil {
			return broker.Config{}, err
		}
	}
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.Durability, cfg.MQTT, cfg.HTTP = store, o.Mode, o.Addr, ""
	// No per-client rate limit: a gateway connection carries many devices,
	// and the benchmark asks what the broker can carry, not what the
	// default limit allows.
	cfg.RatePerClient, cfg.RateBurst = 0, 0
	cfg.Users = []broker.User{
		{Name: TargetAdminUser, Role: broker.RoleAdmin, PasswordHash: hash},
		{Name: TargetGatewayUser, Role: broker.RoleGateway, Zones: []string{"*"}, PasswordHash: hash},
	}
	return cfg, nil
}

// enroll writes the devices into a new store at path, in one transaction.
func enroll(ctx context.Context, path string, devs []devices.Device) error {
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(devs, 10_000) {
		if err := store.Write(ctx, devices.Batch{Devices: chunk}); err != nil {
			store.Close()
			return fmt.Errorf("enrolling %d devices in %s: %w", len(devs), path, err)
		}
	}
	return store.Close()
}
