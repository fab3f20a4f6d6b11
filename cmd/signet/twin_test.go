package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// TestTwinWatchFollowsTheFile runs the follow loop of "signet twin watch"
// against a store that another writer changes and locks, which testscript
// cannot do: nothing on the command line writes twins.
func TestTwinWatchFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	s, key := storeWithStreetlight(t, path)
	s.Close()

	ctx, cancel := context.WithCancel(context.Background())
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- watchTwins(ctx, path, "z1", 10*time.Millisecond, false, outW, errW)
		outW.Close()
		errW.Close()
	}()
	out, errOut := bufio.NewReader(outR), bufio.NewReader(errR)
	readLine := func(r *bufio.Reader, what string) string {
		t.Helper()
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading %s: %v", what, err)
		}
		return line
	}

	if first := readLine(out, "first twin"); !strings.Contains(first, `"device":"sl-1"`) || !strings.Contains(first, `"version":0`) {
		t.Fatalf("first line = %s, want sl-1's empty twin", first)
	}

	// A broker-like writer opens the store, which locks the watcher out.
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if msg := readLine(errOut, "lock notice"); !strings.Contains(msg, "locked by another process") {
		t.Fatalf("stderr = %q, want a lock notice", msg)
	}
	e, err := devices.Open(ctx, s, devices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, devices.Update{KID: key.KID, Counter: 1, Kind: devices.State, Patch: []byte(`{"level":42}`)}); err != nil {
		t.Fatal(err)
	}
	e.Close(ctx)
	s.Close()

	if next := readLine(out, "changed twin"); !strings.Contains(next, `"level":42`) {
		t.Fatalf("after the commit, line = %s, want the twin with level 42", next)
	}
	cancel()
	go io.Copy(io.Discard, errR)
	go io.Copy(io.Discard, outR)
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v, want nil after cancel", err)
	}
}

// storeWithStreetlight opens a new store at path with streetlight sl-1 of
// zone z1 enrolled, and returns it open (the caller closes it) with sl-1's
// key.
func storeWithStreetlight(t *testing.T, path string) (*boltstore.Store, devices.Key) {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	key := devices.Key{KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := devices.NewRegistry(s, time.Now).Enroll(context.Background(), devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{key}}); err != nil {
		t.Fatal(err)
	}
	return s, key
}
