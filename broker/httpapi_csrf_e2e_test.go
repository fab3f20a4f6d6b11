package broker_test

import (
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/signing"
)

// TestCrossSiteFormCannotEnrol: an admin's headless Chromium holds basic
// auth credentials for the broker (it opened the API with them). A page on
// another site (another address, so cross-site, not just cross-origin)
// auto-submits a text/plain form whose body is a device document in JSON
// to POST /api/v1/devices. The browser sends the admin's credentials with
// it; the broker refuses it and no device is enrolled. The same admin's
// same-origin JSON enrolment works afterwards.
func TestCrossSiteFormCannotEnrol(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	evil := newDevice(t, "sl-evil", "z1", "streetlight", signing.AlgEd25519)
	body := deviceBody(t, "sl-evil", "z1", "streetlight", evil)
	// text/plain sends name=value: the name carries the JSON up to an open
	// metadata string, the value closes it: {..., "metadata":{"pad":"="}}.
	name := strings.TrimSuffix(body, "}") + `,"metadata":{"pad":"`
	page := `<!doctype html><title>cats</title><form id=f method=post enctype=text/plain action="` + html.EscapeString(base+"/api/v1/devices") + `">` +
		`<input type=hidden name="` + html.EscapeString(name) + `" value='"}}'></form><script>document.getElementById("f").submit()</script>`
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	site := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(page))
	})}
	go site.Serve(ln)
	t.Cleanup(func() { site.Close() })

	ctx := browser(t)
	withCreds := &url.URL{Scheme: "http", User: url.UserPassword("admin", testPassword), Host: c.srv.HTTPAddr(), Path: "/api/v1/twins"}
	do(t, ctx, "admin opens the API with its credentials", chromedp.Navigate(withCreds.String()), chromedp.WaitReady(chromedp.CSS("body")))
	if got := text(t, ctx, "body"); !strings.Contains(got, `"device": "sl-1"`) {
		t.Fatalf("the admin's browser did not read the API with its credentials: %q", got)
	}
	do(t, ctx, "admin visits another site", chromedp.Navigate("http://"+ln.Addr().String()+"/"))
	// The page submits itself at once; wait for the browser to land on the
	// broker's answer.
	for {
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("waiting for the form to land: %v", err)
		}
		if strings.HasPrefix(loc, base) {
			break
		}
	}
	do(t, ctx, "broker's answer", chromedp.WaitReady(chromedp.CSS("body")))
	if got := text(t, ctx, "body"); !strings.Contains(got, "cross-origin request refused") {
		t.Errorf("the broker answered the cross-site form with %q, want the cross-origin refusal", got)
	}
	if _, enrolled := c.srv.Edge().Twin("sl-evil"); enrolled {
		t.Fatal("a cross-site form enrolled a device with the admin's cached credentials")
	}

	// The honest way still works: the admin's JSON from the broker's own
	// origin (as a browser on the dashboard would send it).
	code, answer := enrolCall(t, base, body, "application/json", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"})
	if code != http.StatusCreated {
		t.Fatalf("same-origin JSON enrolment: %d %s", code, answer)
	}
	if _, enrolled := c.srv.Edge().Twin("sl-evil"); !enrolled {
		t.Fatal("the same-origin enrolment did not reach the edge")
	}
}

// enrolCall POSTs body to /api/v1/devices as admin with the content type
// and extra headers given.
func enrolCall(t *testing.T, base, body, contentType string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/api/v1/devices", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", testPassword)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// TestEnrolmentWantsJSONFromItsOwnOrigin: POST /api/v1/devices refuses a
// body not declared application/json (415) and a request from another
// origin (403, by Origin or by Sec-Fetch-Site), before any password is
// checked; JSON from the broker's origin, or from a client that is no
// browser (no Origin), enrols.
func TestEnrolmentWantsJSONFromItsOwnOrigin(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0" })
	base := "http://" + c.srv.HTTPAddr()
	cases := []struct {
		name, id, contentType string
		headers               map[string]string
		want                  int
		says                  string
	}{
		{"text/plain", "sl-a", "text/plain", nil, http.StatusUnsupportedMediaType, "application/json"},
		{"form", "sl-a", "application/x-www-form-urlencoded", nil, http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", "sl-a", "", nil, http.StatusUnsupportedMediaType, "application/json"},
		{"other Origin", "sl-a", "application/json", map[string]string{"Origin": "http://evil.example"}, http.StatusForbidden, "cross-origin"},
		{"cross-site fetch", "sl-a", "application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "cross-origin"},
		{"same-site fetch", "sl-a", "application/json", map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden, "cross-origin"},
		{"same origin", "sl-a", "application/json; charset=utf-8", map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin"}, http.StatusCreated, `"id": "sl-a"`},
		{"no browser", "sl-b", "application/json", nil, http.StatusCreated, `"id": "sl-b"`},
	}
	hashes := c.srv.PasswordGuard().Stats().Hashes
	for _, tc := range cases {
		d := newDevice(t, tc.id, "z1", "streetlight", signing.AlgEd25519)
		code, answer := enrolCall(t, base, deviceBody(t, tc.id, "z1", "streetlight", d), tc.contentType, tc.headers)
		if code != tc.want || !strings.Contains(answer, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, code, answer, tc.want, tc.says)
		}
		if _, enrolled := c.srv.Edge().Twin(tc.id); enrolled != (tc.want == http.StatusCreated) {
			t.Errorf("%s: enrolled %v", tc.name, enrolled)
		}
	}
	// Refusals cost no hash: only the first enrolment checked the password
	// (the second was remembered).
	if got := c.srv.PasswordGuard().Stats().Hashes - hashes; got != 1 {
		t.Errorf("%d password hashes for the requests above, want 1", got)
	}
}
