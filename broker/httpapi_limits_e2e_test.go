package broker_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/broker"
)

// TestSlowHeadersAreCutOff: clients that send their request headers one
// byte at a time (slowloris) are disconnected by the read-header timeout
// long before their headers end, while an honest request is answered
// meanwhile.
func TestSlowHeadersAreCutOff(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.AccessLimits.HTTPReadHeaderTimeout = 300 * time.Millisecond
	})
	addr := c.srv.HTTPAddr()
	// 4 KiB of header at one byte per 20 ms would take 80 s.
	request := "GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: " + strings.Repeat("a", 4096) + "\r\n\r\n"
	const slow = 8
	type result struct {
		sent int
		err  error
	}
	done := make(chan result, slow)
	for range slow {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		closed := make(chan struct{})
		go func() { // the server's side: read until it hangs up
			conn.SetReadDeadline(time.Now().Add(60 * time.Second)) // liveness bound only
			io.Copy(io.Discard, conn)
			close(closed)
		}()
		go func() { // the slow client: one byte per tick until hung up on
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := range len(request) {
				select {
				case <-closed:
					done <- result{sent: i}
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte{request[i]}); err != nil {
					done <- result{sent: i}
					return
				}
			}
			done <- result{sent: len(request), err: io.ErrUnexpectedEOF}
		}()
	}
	// Meanwhile an honest client is answered.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("honest request during the slow ones: %d %q", resp.StatusCode, body)
	}
	for range slow {
		r := <-done
		if r.sent >= len(request) {
			t.Fatal("a slow client sent its whole request without being cut off")
		}
	}
}

// TestHTTPRequestSizeLimits: headers beyond http_max_header_bytes get 431
// and bodies beyond http_max_body_bytes 413; a request within both works.
func TestHTTPRequestSizeLimits(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		cfg.AccessLimits.HTTPMaxHeaderBytes = 4096
		cfg.AccessLimits.HTTPMaxBodyBytes = 1024
	})
	base := "http://" + c.srv.HTTPAddr()
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("h", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("16 KiB of headers: %d, want 431", resp.StatusCode)
	}
	big := `{"id":"sl-big","metadata":{"pad":"` + strings.Repeat("p", 2048) + `"}}`
	if code, answer := enrolCall(t, base, big, "application/json", nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(answer, "larger than 1024 bytes") {
		t.Fatalf("2 KiB body over a 1 KiB limit: %d %q, want 413", code, answer)
	}
	if code, _, _ := httpCall(t, "GET", base+"/api/v1/twins", "admin", testPassword, "", ""); code != 200 {
		t.Fatalf("a request within the limits: %d", code)
	}
}

// TestGatewayReadsOverHTTPAsOverMQTT: a gateway may not read twins over
// MQTT, so the HTTP API shows it no twins and no registry records either;
// a viewer of the same zone still sees both.
func TestGatewayReadsOverHTTPAsOverMQTT(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	// Over MQTT the gateway's subscription to z1's twins delivers nothing,
	// while the viewer's delivers the new twin of sl-1; a marker the viewer
	// publishes after seeing it reaches the gateway after the twin would
	// have (one server, one outbound queue per client).
	viewer := c.connect(t, "app-v", "viewer-z1")
	viewerTwin := subscribe(t, viewer, "$twin/z1/sl-1/reported")
	gw := c.connect(t, "gw-1", "gw")
	gwTwins := subscribe(t, gw, "$twin/z1/#")
	marker := subscribe(t, gw, "ops/after")
	dev := c.connect(t, "sl-1", "")
	publish(t, dev, "city/z1/sl-1/state", 1, c.devs["sl-1"].sign(t, "city/z1/sl-1/state", []byte(`{"level":5}`)))
	for m := viewerTwin.next(t); !strings.Contains(string(m.Payload()), `"level":5`); m = viewerTwin.next(t) {
	}
	publish(t, viewer, "ops/after", 1, []byte("after"))
	if m := marker.next(t); string(m.Payload()) != "after" {
		t.Fatalf("marker: %s", m.Payload())
	}
	if n := len(gwTwins.ch); n != 0 {
		t.Fatalf("the gateway got %d twin messages over MQTT", n)
	}

	for _, path := range []string{"/api/v1/twins", "/api/v1/devices"} {
		code, body, _ := httpCall(t, "GET", base+path, "gw", testPassword, "", "")
		var list []json.RawMessage
		if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 0 {
			t.Errorf("gateway GET %s: %d %s, want an empty list", path, code, body)
		}
		code, body, _ = httpCall(t, "GET", base+path, "viewer-z1", testPassword, "", "")
		if code != 200 || !strings.Contains(body, "sl-1") || strings.Contains(body, "aq-9") {
			t.Errorf("viewer GET %s: %d, want z1's devices only: %s", path, code, body)
		}
	}
	for _, path := range []string{"/api/v1/twins/sl-1", "/api/v1/devices/sl-1"} {
		if code, _, _ := httpCall(t, "GET", base+path, "gw", testPassword, "", ""); code != http.StatusNotFound {
			t.Errorf("gateway GET %s: %d, want 404", path, code)
		}
		if code, _, _ := httpCall(t, "GET", base+path, "viewer-z1", testPassword, "", ""); code != 200 {
			t.Errorf("viewer GET %s: %d, want 200", path, code)
		}
	}
}
