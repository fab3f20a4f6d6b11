// Package brokertest is for tests only: it runs a real Signet broker on a
// loopback port over a store in a temporary folder, with whatever devices,
// operators and authorities a test enrolls in it, and stops the broker when
// the test ends. Tests in other packages (firmware-sim, cmd/signet) drive it
// with real clients, as CONVENTIONS.md asks.
package brokertest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
)

// StoreFile is the name of the store file NewStore makes in its folder.
const StoreFile = "s.db"

// NewStore makes an embedded store in dir, lets enroll fill its registry,
// closes it (a broker opens the file alone) and returns its path. The test
// fails if any step does.
func NewStore(t testing.TB, dir string, enroll func(context.Context, *devices.Registry) error) string {
	t.Helper()
	path := filepath.Join(dir, StoreFile)
	store, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = enroll(context.Background(), devices.NewRegistry(store, nil))
	if cerr := store.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// Start runs a broker over the store file at store with MQTT on 127.0.0.1:0
// and no HTTP API (configure may change any of it, e.g. cfg.HTTP =
// "127.0.0.1:0" or cfg.Users), logging nowhere, and shuts it down when the
// test ends. Its addresses are srv.MQTTAddr() and srv.HTTPAddr().
func Start(t testing.TB, store string, configure ...func(*broker.Config)) *broker.Server {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP = store, "127.0.0.1:0", ""
	for _, c := range configure {
		c(&cfg)
	}
	srv, err := broker.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// Plain starts a mochi server on 127.0.0.1:0 that lets everyone in and
// checks nothing (a broker that does not verify, or a compromised one), with
// its listener made ShutdownSafe, and returns it and its address. The caller
// closes it.
func Plain(t testing.TB) (*mqtt.Server, string) {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := srv.AddListener(broker.ShutdownSafe(srv, tcp)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	return srv, tcp.Address()
}
