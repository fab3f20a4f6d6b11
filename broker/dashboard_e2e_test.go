package broker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signet-city/signet/broker"
)

// chromiumPath finds Debian's chromium. The dashboard is tested in a real
// browser or not at all: a missing browser fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("chromium is not installed; the dashboard test needs a real browser: apt-get install -y chromium (.ci/run must install it)")
	return ""
}

// browser starts headless Chromium with a fresh profile and no network
// side traffic (the machine is offline).
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	// The first Do starts the browser; it must not carry a timeout (that
	// would stop the browser with it).
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	// A liveness bound for the actions, not a timing assertion.
	ctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// text reads the visible text of the first element matching a CSS selector.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// do runs browser steps, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestDashboardInChromium: a real broker with a real store; a device's
// signed state update and an attack; the operator dashboard loaded in headless
// Chromium shows a clear error for wrong credentials (401), then, after
// signing in, the twin with its reported fields and the rejections by reason.
// A viewer signing in with a bearer token sees its zone's twins and is told
// it may not read security events.
func TestDashboardInChromium(t *testing.T) {
	const token = "viewer-dashboard-token"
	sum := sha256.Sum256([]byte(token))
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg) // a wrong password, then the right one at once, from one address
		cfg.Users = append(cfg.Users, broker.User{Name: "dash-viewer", Role: broker.RoleViewer, Zones: []string{"z1"}, PasswordHash: passwordHash(t), TokenSHA256: hex.EncodeToString(sum[:])})
	})
	admin := c.connect(t, "ops-console", "admin")
	cityMsgs := subscribe(t, admin, "city/#")
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	dev := c.connect(t, "sl-1", "")
	d := c.devs["sl-1"]
	const tp = "city/z1/sl-1/state"
	good := d.sign(t, tp, []byte(`{"on":true,"level":70,"mode":"manual"}`))
	publish(t, dev, tp, 1, good)
	if m := cityMsgs.next(t); string(m.Payload()) != string(good) {
		t.Fatalf("state update not delivered")
	}
	tampered := d.sign(t, tp, []byte(`{"level":0}`))
	tampered[len(tampered)-1] ^= 1
	publish(t, dev, tp, 1, tampered)
	// An attacker-chosen topic must show as text, never as markup.
	const hostile = `city/z1/<img src=x onerror=document.title='pwned'>/state`
	publish(t, dev, hostile, 0, []byte("x"))
	for _, want := range []string{"bad_signature", "bad_topic"} {
		if ev := nextEvent(t, events); ev.Reason != want {
			t.Fatalf("event %+v, want %s", ev, want)
		}
	}

	ctx := browser(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	url := "http://" + c.srv.HTTPAddr() + broker.DashboardPath
	do(t, ctx, "wrong password",
		chromedp.Navigate(url),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#user"), "admin"),
		chromedp.SendKeys(css("#password"), "not the password"),
		chromedp.Click(css("#login-button")),
		chromedp.WaitVisible(css("#login-error")),
	)
	if loginErr := text(t, ctx, "#login-error"); !strings.Contains(loginErr, "401") || !strings.Contains(loginErr, "wrong user, password or token") {
		t.Fatalf("login error %q, want a clear 401 message", loginErr)
	}

	// A failed sign-in clears the secret fields.
	do(t, ctx, "dashboard as admin",
		chromedp.SendKeys(css("#password"), testPassword),
		chromedp.Click(css("#login-button")),
		chromedp.WaitVisible(css(`#zones tr[data-device="sl-1"]`)),
		chromedp.WaitVisible(css(`#reasons tr[data-reason="bad_signature"]`)),
		chromedp.WaitVisible(css(`#events tr[data-reason="bad_topic"]`)),
	)
	twinRow := text(t, ctx, `#zones tr[data-device="sl-1"]`)
	reasonRow := text(t, ctx, `#reasons tr[data-reason="bad_signature"]`)
	eventsText := text(t, ctx, "#events")
	accepted, rejected := text(t, ctx, "#count-accepted"), text(t, ctx, "#count-rejected")
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"sl-1", "streetlight", "level=70", "on=true", "mode=manual"} {
		if !strings.Contains(twinRow, want) {
			t.Errorf("twin row %q lacks %q", twinRow, want)
		}
	}
	if !strings.Contains(reasonRow, "bad_signature") || !strings.Contains(reasonRow, "1") {
		t.Errorf("reason row %q, want bad_signature 1", reasonRow)
	}
	if !strings.Contains(eventsText, "bad_signature") || !strings.Contains(eventsText, "<img src=x") {
		t.Errorf("events %q lack the rejection or the hostile topic as text", eventsText)
	}
	if title == "pwned" {
		t.Error("a hostile topic ran as markup")
	}
	if accepted == "0" || rejected == "0" {
		t.Errorf("counts: accepted %q rejected %q", accepted, rejected)
	}
	if path := os.Getenv("SIGNET_DASHBOARD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A z1 viewer with a bearer token: twins of z1 only, no security events.
	do(t, ctx, "dashboard as viewer",
		chromedp.Click(css("#who button")),
		chromedp.WaitVisible(css("#login")),
		chromedp.SendKeys(css("#token"), token),
		chromedp.Click(css("#login-button")),
		chromedp.WaitVisible(css(`#zones tr[data-device="sl-1"]`)),
		chromedp.WaitVisible(css("#events-note")),
	)
	note, zones := text(t, ctx, "#events-note"), text(t, ctx, "#zones")
	if !strings.Contains(note, "403") || strings.Contains(zones, "aq-9") || strings.Contains(zones, "zone z2") {
		t.Fatalf("viewer: note %q, zones %q", note, zones)
	}
}
