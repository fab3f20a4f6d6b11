package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

func TestCorpusRoundTrip(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 7, Messages: 12, Zones: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 84 || len(c.Zones()) != 3 {
		t.Fatalf("corpus has %d messages in zones %v, want 84 in 3 zones", c.Len(), c.Zones())
	}
	// Every message is a valid envelope of its device, for its topic, with
	// counters in order from FirstMessageCounter; every tenth is state,
	// offset by the device's index, so that no message index is state for
	// every device at once.
	stateAt := map[int]int{} // message index -> devices whose message there is state
	for i, d := range c.Devices {
		for j, m := range c.Messages[i] {
			tp, err := topic.ParseCity(m.Topic)
			if err != nil || tp.Device != d.ID || tp.Zone != d.Zone {
				t.Fatalf("message %d of %s: topic %q (%v)", j, d.ID, m.Topic, err)
			}
			if wantState := (i+j)%10 == 9; (tp.Class == topic.State) != wantState {
				t.Errorf("message %d of %s: topic %q, state %v", j, d.ID, m.Topic, wantState)
			}
			if tp.Class == topic.State {
				stateAt[j]++
			}
			env, err := signing.Parse(m.Payload, 0)
			if err != nil {
				t.Fatal(err)
			}
			if env.Header.Counter != uint64(FirstMessageCounter+j) || !bytes.Equal(env.Header.KID, d.KID) {
				t.Errorf("message %d of %s: counter %d kid %x", j, d.ID, env.Header.Counter, env.Header.KID)
			}
			if err := env.Verify(d.Key.Public(), m.Topic); err != nil {
				t.Errorf("message %d of %s: %v", j, d.ID, err)
			}
		}
	}
	for j, n := range stateAt {
		if n == len(c.Devices) {
			t.Errorf("message %d is state for all %d devices: their state reports would arrive as one burst", j, n)
		}
	}

	path := filepath.Join(t.TempDir(), "city.corpus")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("corpus file mode: %v %v, want 0600 (it holds private keys)", fi.Mode(), err)
	}
	back, err := ReadCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range c.Devices {
		b := back.Devices[i]
		if b.ID != d.ID || b.Zone != d.Zone || !bytes.Equal(b.KID, d.KID) || !bytes.Equal(b.Key.Public().Bytes(), d.Key.Public().Bytes()) {
			t.Fatalf("device %d: read %+v, wrote %+v", i, b, d)
		}
		for j, m := range c.Messages[i] {
			if back.Messages[i][j].Topic != m.Topic || !bytes.Equal(back.Messages[i][j].Payload, m.Payload) {
				t.Fatalf("device %d message %d differs after reading", i, j)
			}
		}
	}
	// A reloaded corpus signs connect tokens its broker accepts: the
	// device's key, its id as payload, topic $connect, counter 1.
	tok, err := back.ConnectToken(2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	env, err := signing.Parse(tok, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Verify(c.Devices[2].Key.Public(), "$connect"); err != nil || string(env.Payload) != c.Devices[2].ID || env.Header.Counter != TokenCounter {
		t.Errorf("connect token: %v, payload %q, counter %d", err, env.Payload, env.Header.Counter)
	}
}

func TestReadCorpusRefusesBadFiles(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 3, Messages: 4})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.corpus")
	if err := c.WriteFile(good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated in header"},
		{"not a corpus", []byte("hello, world\nthis is text"), "not a Signet corpus"},
		{"cut in the keys", data[:200], "truncated in device"},
		{"cut in the messages", data[:len(data)-100], "truncated in device sl-000002 message"},
		{"no trailer", data[:len(data)-len(corpusTrailer)], "truncated in trailer"},
		{"trailing bytes", append(bytes.Clone(data), 'x'), "trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.corpus")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := ReadCorpus(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadCorpus: %v, want an error naming %s and saying %q", err, path, tt.want)
			}
		})
	}
	if _, err := ReadCorpus(filepath.Join(dir, "missing.corpus")); err == nil {
		t.Error("a missing corpus must be an error")
	}
}

func TestGenerateCorpusRefusesBadSizes(t *testing.T) {
	for _, o := range []CorpusOptions{{Devices: 0, Messages: 1}, {Devices: 1, Messages: 0}, {Devices: -1, Messages: 5}} {
		if _, err := GenerateCorpus(context.Background(), o); err == nil {
			t.Errorf("GenerateCorpus(%+v) succeeded", o)
		}
	}
}
