package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestServeFlagsWinOverConfig: defaults, then the YAML file, then the
// flags the user set.
func TestServeFlagsWinOverConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signet.yaml")
	yaml := "store: " + filepath.Join(dir, "file.db") + "\ndurability: relaxed\nmqtt: 127.0.0.1:1999\nhttp: 127.0.0.1:8999\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                            string
		args                            []string
		store, durability, mqtt, httpAd string
	}{
		{"file only", nil, filepath.Join(dir, "file.db"), "relaxed", "127.0.0.1:1999", "127.0.0.1:8999"},
		{"flags win", []string{"--durability", "strict", "--mqtt-addr", "127.0.0.1:0", "--http-addr", ""},
			filepath.Join(dir, "file.db"), "strict", "127.0.0.1:0", ""},
		{"store flag", []string{"--store", filepath.Join(dir, "flag.db")}, filepath.Join(dir, "flag.db"), "relaxed", "127.0.0.1:1999", "127.0.0.1:8999"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newServeCmd()
			if err := cmd.Flags().Parse(append([]string{"--config", path}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			f := cmd.Flags()
			get := func(n string) string { v, _ := f.GetString(n); return v }
			cfg, cleanup, err := serveConfig(cmd, get("config"), false, serveFlags{
				store: get("store"), durability: get("durability"), mqtt: get("mqtt-addr"), http: get("http-addr"), audit: get("audit"),
			})
			defer cleanup()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store != tc.store || cfg.Durability != tc.durability || cfg.MQTT != tc.mqtt || cfg.HTTP != tc.httpAd {
				t.Fatalf("config %+v, want store %s durability %s mqtt %s http %q", cfg, tc.store, tc.durability, tc.mqtt, tc.httpAd)
			}
		})
	}
}

// TestServeDev runs "signet serve --dev" as a user would: it prints where it
// listens, serves ordinary MQTT to anonymous clients, /healthz, /readyz and
// the dashboard, and shuts down cleanly when interrupted.
func TestServeDev(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newServeCmd()
	cmd.SetArgs([]string{"--dev", "--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"})
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
	if !lines.Scan() {
		t.Fatalf("serve --dev printed nothing; exit: %v", <-done)
	}
	m := regexp.MustCompile(`^signet: listening on mqtt (127\.0\.0\.1:\d+), http (127\.0\.0\.1:\d+)$`).FindStringSubmatch(lines.Text())
	if m == nil {
		t.Fatalf("first line %q", lines.Text())
	}
	if !lines.Scan() {
		t.Fatal("serve --dev printed one line")
	}
	st := regexp.MustCompile(`^signet: store (\S+signet-dev-\S+/signet\.db) \(0 devices, strict\), 0 users, audit log \S+/audit\.jsonl$`).FindStringSubmatch(lines.Text())
	if st == nil {
		t.Fatalf("second line %q, want the store, its devices, durability, users and audit log", lines.Text())
	}
	if !lines.Scan() || lines.Text() != "signet: dashboard http://"+m[2]+"/dashboard/" {
		t.Fatalf("third line %q, want the dashboard URL", lines.Text())
	}
	rest := make(chan string, 1)
	go func() {
		var b strings.Builder
		for lines.Scan() {
			b.WriteString(lines.Text() + "\n")
		}
		rest <- b.String()
	}()

	for _, path := range []string{"/healthz", "/readyz", "/dashboard/"} {
		resp, err := http.Get("http://" + m[2] + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + m[2] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "signet_clients_connected"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Errorf("/metrics has no %s", name)
		}
	}
	opts := paho.NewClientOptions().AddBroker("tcp://" + m[1]).SetClientID("dev-1").SetAutoReconnect(false).SetProtocolVersion(4)
	cl := paho.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("anonymous connect to --dev: %v", tok.Error())
	}
	got := make(chan string, 1)
	if tok := cl.Subscribe("lobby/#", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := cl.Publish("lobby/hello", 1, false, "hi"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case p := <-got:
		if p != "hi" {
			t.Fatalf("got %q", p)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no message on an ordinary topic")
	}
	cl.Disconnect(100)

	cancel() // as SIGINT does
	if err := <-done; err != nil {
		t.Fatalf("serve --dev exit: %v", err)
	}
	if r := <-rest; !strings.Contains(r, "shutting down: draining verification and commits") {
		t.Fatalf("after interrupt: %q", r)
	}
	if _, err := os.Stat(filepath.Dir(st[1])); !os.IsNotExist(err) {
		t.Fatalf("--dev left its temporary store behind: %v", err)
	}
}
