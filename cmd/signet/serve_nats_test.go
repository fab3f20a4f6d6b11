package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
	"github.com/signet-city/signet/devices/storetest"
)

// TestMigrateThenServeOnNATS: "signet store migrate" copies a bbolt store
// with one device into a real JetStream server, refuses to do it twice,
// and "signet serve --store nats://..." then serves that device from it
// and stops cleanly.
func TestMigrateThenServeOnNATS(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "signet.db")
	bs, err := boltstore.Open(db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = devices.NewRegistry(bs, nil).Enroll(context.Background(), devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{storetest.NewKey(t)}})
	bs.Close()
	if err != nil {
		t.Fatal(err)
	}
	url := natstest.Server(t).ClientURL()
	migrate := func() (string, error) {
		cmd := newStoreCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"migrate", "--from", db, "--to", url, "--replicas", "1"})
		err := cmd.Execute()
		return out.String(), err
	}
	if out, err := migrate(); err != nil || !strings.Contains(out, "1 devices, 0 operators, 0 authorities") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	if _, err := migrate(); err == nil || !strings.Contains(err.Error(), "already holds a registry") {
		t.Fatalf("second migrate: %v, want a refusal", err)
	}

	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte("nats:\n  replicas: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newServeCmd()
	cmd.SetArgs([]string{"--config", cfgPath, "--store", url, "--mqtt-addr", "127.0.0.1:0", "--http-addr", ""})
	out, w := io.Pipe()
	cmd.SetOut(w)
	cmd.SetErr(io.Discard)
	done := make(chan error, 1)
	go func() {
		err := cmd.ExecuteContext(ctx)
		w.Close()
		done <- err
	}()
	lines := bufio.NewScanner(out)
	lines.Scan() // where it listens
	if !lines.Scan() {
		t.Fatalf("serve on NATS printed too little; exit: %v", <-done)
	}
	if !regexp.MustCompile(`^signet: store nats://\S+ \(1 device, strict\)`).MatchString(lines.Text()) {
		t.Fatalf("second line %q, want the NATS store with the migrated device", lines.Text())
	}
	go io.Copy(io.Discard, out)
	cancel() // as SIGINT does
	if err := <-done; err != nil {
		t.Fatalf("serve on NATS exit: %v", err)
	}
}
