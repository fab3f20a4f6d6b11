package devices_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// newKey makes a fresh active Ed25519 device key and its private half.
func newKey(t testing.TB) (devices.Key, signing.PrivateKey) {
	t.Helper()
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public()
	return devices.Key{KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}, priv
}

func openStore(t testing.TB, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRegistryEnrollErrors(t *testing.T) {
	ctx := context.Background()
	reg := devices.NewRegistry(openStore(t, filepath.Join(t.TempDir(), "s.db")), time.Now)
	k1, _ := newKey(t)
	k2, _ := newKey(t)
	if err := reg.Enroll(ctx, devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}}); err != nil {
		t.Fatal(err)
	}
	badKey := k2
	badKey.Public = bytes.Repeat([]byte{0}, 31)
	tests := []struct {
		name string
		dev  devices.Device
		want string
	}{
		{"duplicate id", devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k2}}, `device "sl-1" is already enrolled`},
		{"duplicate kid", devices.Device{ID: "sl-2", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}}, "duplicate kid " + signing.FormatKeyID(k1.KID) + ": already held by device sl-1"},
		{"bad zone", devices.Device{ID: "sl-2", Zone: "Zone_1", Kind: "streetlight", Keys: []devices.Key{k2}}, `zone "Zone_1"`},
		{"bad id", devices.Device{ID: "", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k2}}, `device id ""`},
		{"unknown kind", devices.Device{ID: "sl-2", Zone: "z1", Kind: "toaster", Keys: []devices.Key{k2}}, `unknown kind "toaster"`},
		{"no key", devices.Device{ID: "sl-2", Zone: "z1", Kind: "streetlight"}, "device sl-2: has no key"},
		{"bad public key", devices.Device{ID: "sl-2", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{badKey}}, "key " + signing.FormatKeyID(k2.KID)},
		{"same kid twice", devices.Device{ID: "sl-2", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k2, k2}}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reg.Enroll(ctx, tt.dev)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Enroll error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if list, _ := reg.Devices(ctx, ""); len(list) != 1 {
		t.Errorf("after failed enrolments, %d devices, want 1", len(list))
	}
}

func TestRegistryRevokeAndRotate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	reg := devices.NewRegistry(openStore(t, filepath.Join(t.TempDir(), "s.db")), clk.now)
	k1, _ := newKey(t)
	k2, _ := newKey(t)
	k3, _ := newKey(t)
	for _, d := range []devices.Device{
		{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}},
		{ID: "aq-1", Zone: "z2", Kind: "air-quality", Keys: []devices.Key{k3}},
	} {
		if err := reg.Enroll(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if z1, _ := reg.Devices(ctx, "z1"); len(z1) != 1 || z1[0].ID != "sl-1" {
		t.Errorf("Devices(z1) = %+v, want sl-1 only", z1)
	}

	d, err := reg.Rotate(ctx, "sl-1", k2, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 2 || !d.Keys[0].NotAfter.Equal(clk.t.Add(24*time.Hour)) || !d.Keys[1].NotAfter.IsZero() {
		t.Fatalf("after rotation keys = %+v", d.Keys)
	}
	if !d.Keys[0].Usable(clk.t.Add(23*time.Hour)) || d.Keys[0].Usable(clk.t.Add(24*time.Hour)) {
		t.Error("old key: want usable inside the grace period and refused at its end")
	}
	if _, err := reg.Rotate(ctx, "sl-1", k3, time.Hour); err == nil || !strings.Contains(err.Error(), "duplicate kid") {
		t.Errorf("rotating to another device's key: err = %v, want duplicate kid", err)
	}
	if _, err := reg.Rotate(ctx, "nope", k3, time.Hour); err == nil || !strings.Contains(err.Error(), `unknown device "nope"`) {
		t.Errorf("rotating unknown device: err = %v", err)
	}

	owner, err := reg.RevokeKey(ctx, k2.KID)
	if err != nil || owner.ID != "sl-1" {
		t.Fatalf("RevokeKey = %v, %v", owner, err)
	}
	d, _ = reg.Device(ctx, "sl-1")
	if d.Keys[1].Status != devices.StatusRevoked || d.Keys[0].Status != devices.StatusActive {
		t.Errorf("after RevokeKey(k2): %+v", d.Keys)
	}
	if _, err := reg.RevokeKey(ctx, []byte{9, 9}); err == nil || !strings.Contains(err.Error(), "unknown kid 0909") {
		t.Errorf("RevokeKey(unknown) = %v", err)
	}
	d, err = reg.RevokeDevice(ctx, "aq-1")
	if err != nil || d.Keys[0].Status != devices.StatusRevoked {
		t.Errorf("RevokeDevice = %+v, %v", d, err)
	}
}

func TestRegistryOperatorsAndAuthorities(t *testing.T) {
	ctx := context.Background()
	reg := devices.NewRegistry(openStore(t, filepath.Join(t.TempDir(), "s.db")), time.Now)
	k1, _ := newKey(t)
	k2, _ := newKey(t)
	k3, _ := newKey(t)
	op := devices.Operator{ID: "alice", Keys: []devices.Key{k1}, Scope: devices.Scope{Zones: []string{"z1"}, Kinds: []string{"traffic-signal"}, Commands: []string{"set-plan"}}}
	if err := reg.EnrollOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	if !op.Scope.Allows("z1", "traffic-signal", "set-plan") || op.Scope.Allows("z2", "traffic-signal", "set-plan") {
		t.Error("Scope.Allows: want z1 allowed and z2 refused")
	}
	bad := []devices.Operator{
		{ID: "bob", Keys: []devices.Key{k2}, Scope: devices.Scope{Kinds: []string{"*"}, Commands: []string{"*"}}},
		{ID: "bob", Keys: []devices.Key{k2}, Scope: devices.Scope{Zones: []string{"*"}, Kinds: []string{"toaster"}, Commands: []string{"*"}}},
		{ID: "bob", Keys: []devices.Key{k1}, Scope: devices.Scope{Zones: []string{"*"}, Kinds: []string{"*"}, Commands: []string{"*"}}},
	}
	for i, o := range bad {
		if err := reg.EnrollOperator(ctx, o); err == nil {
			t.Errorf("bad operator %d enrolled", i)
		}
	}
	if _, err := reg.AddAuthorityKey(ctx, "city", k2); err != nil {
		t.Fatal(err)
	}
	a, err := reg.AddAuthorityKey(ctx, "city", k3)
	if err != nil || len(a.Keys) != 2 {
		t.Fatalf("second authority key: %+v, %v", a, err)
	}
	if _, err := reg.AddAuthorityKey(ctx, "city", k1); err == nil || !strings.Contains(err.Error(), "already held by operator alice") {
		t.Errorf("authority with operator's kid: err = %v", err)
	}
	o, err := reg.RevokeOperator(ctx, "alice")
	if err != nil || o.Keys[0].Status != devices.StatusRevoked {
		t.Errorf("RevokeOperator = %+v, %v", o, err)
	}
}

func TestExportImport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := openStore(t, filepath.Join(dir, "src.db"))
	reg := devices.NewRegistry(src, time.Now)
	k1, _ := newKey(t)
	k2, _ := newKey(t)
	if err := reg.Enroll(ctx, devices.Device{ID: "sl-1", Zone: "z1", Kind: "streetlight", Keys: []devices.Key{k1}, Metadata: map[string]string{"pole": "17"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.AddAuthorityKey(ctx, "city", k2); err != nil {
		t.Fatal(err)
	}
	if err := src.Commit(ctx, []devices.Change{{KID: k1.KID, HighWater: 4242, Window: windowAt(t, 4242)}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := reg.Export(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	export := buf.Bytes()

	dst := openStore(t, filepath.Join(dir, "dst.db"))
	into := devices.NewRegistry(dst, time.Now)
	sum, err := into.Import(ctx, "export.json", bytes.NewReader(export))
	if err != nil {
		t.Fatal(err)
	}
	if sum != (devices.ImportSummary{Devices: 1, Authorities: 1, HighWater: 1}) {
		t.Errorf("summary = %+v", sum)
	}
	var again bytes.Buffer
	if err := into.Export(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if again.String() != string(export) {
		t.Errorf("export of the imported store differs:\n%s\nwant\n%s", again.String(), export)
	}
	// The high-water mark came along: a moved registry refuses old counters.
	snap, _ := dst.Load(ctx)
	if len(snap.Windows) != 1 || snap.Windows[0].HighWater != 4242 {
		t.Errorf("imported windows = %+v", snap.Windows)
	}

	// A second import fails as a whole and writes nothing more.
	if _, err := into.Import(ctx, "export.json", bytes.NewReader(export)); err == nil || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("re-import: err = %v", err)
	}

	var e map[string]any
	json.Unmarshal(export, &e)
	mutate := func(f func(map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(export, &c)
		f(c)
		b, _ := json.Marshal(c)
		return b
	}
	k3, _ := newKey(t)
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		{"not json", []byte("{"), "export.json: not a registry export"},
		{"unknown field", mutate(func(c map[string]any) { c["extra"] = 1 }), `unknown field "extra"`},
		{"wrong format", mutate(func(c map[string]any) { c["format"] = "x" }), `format "x"`},
		{"bad zone", mutate(func(c map[string]any) { c["devices"].([]any)[0].(map[string]any)["zone"] = "Z!" }), `zone "Z!"`},
		{"kid reused inside the file", mutate(func(c map[string]any) {
			ds := c["devices"].([]any)
			d2 := map[string]any{}
			for k, v := range ds[0].(map[string]any) {
				d2[k] = v
			}
			d2["id"] = "sl-2"
			c["devices"] = append(ds, d2)
		}), "duplicate kid " + signing.FormatKeyID(k1.KID)},
		{"orphan high-water", mutate(func(c map[string]any) {
			c["high_water"] = []any{map[string]any{"kid": signing.FormatKeyID(k3.KID), "counter": 1}}
		}), "belongs to no key in the file"},
	}
	fresh := devices.NewRegistry(openStore(t, filepath.Join(dir, "fresh.db")), time.Now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fresh.Import(ctx, "export.json", bytes.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import error = %v, want it to contain %q", err, tt.want)
			}
			if list, _ := fresh.Devices(ctx, ""); len(list) != 0 {
				t.Fatalf("failed import wrote %d devices", len(list))
			}
		})
	}
}
