package broker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
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

// text reads the visible text (innerText) of the first element matching a
// CSS selector; see readText.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return readText(t, ctx, sel, "innerText")
}

// textNow reads all the text of the first element matching a CSS selector,
// hidden parts too (textContent); see readText.
func textNow(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return readText(t, ctx, sel, "textContent")
}

// readText reads property prop of the first element matching sel in one
// step in the page: a live page replaces its tables on every render, so an
// element found by one query may be gone by the next (a read of it then
// gives ""). No element matching fails the test, so that a check that some
// text is absent cannot pass on nothing.
func readText(t *testing.T, ctx context.Context, sel, prop string) string {
	t.Helper()
	q, _ := json.Marshal(sel)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const e = document.querySelector(`+string(q)+`); return e ? [String(e.`+prop+` ?? "")] : []; })()`))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	if len(got) != 1 {
		t.Fatalf("text of %s: no element matches", sel)
	}
	return got[0]
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

// waitJS waits, in the page, until the JavaScript condition cond is true
// (checked every 50 ms by the page itself; the action is bounded by the
// browser context's deadline, and by a minute here).
func waitJS(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	expr := `new Promise((resolve) => { const check = () => { let ok = false; try { ok = !!(` + cond + `); } catch (e) {} if (ok) resolve(true); else setTimeout(check, 50); }; check(); })`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, cond, err)
	}
}

// signInAs fills the login form with a user and the test password.
func signInAs(t *testing.T, ctx context.Context, url, user string) {
	t.Helper()
	do(t, ctx, "sign in as "+user,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#main")),
	)
	waitJS(t, ctx, "the live stream", `document.getElementById("live").textContent === "live"`)
}

// trafficSignalPlan is a two-group plan whose groups conflict.
const trafficSignalPlan = `{"groups":["2","4"],"compatible":[],"min_green_ms":5000,"min_yellow_ms":4000,"red_clearance_ms":1000}`

// TestDashboardLiveInChromium: the dashboard in headless Chromium follows
// the broker live. Sixty security events are in the audit log before
// sign-in; the table shows the newest page and "Older events" brings the
// oldest. The store shows as bbolt and ready. A device connecting shows as
// connected, its signed messages raise the chart's accepted count and set
// its last seen time, and its disconnect shows as offline, all without
// reloading. A traffic signal
// that reports conflicting greens shows its heads in those colours, the
// fault on its card, and in the fault list.
func TestDashboardLiveInChromium(t *testing.T) {
	ts := newDevice(t, "ts-1", "z1", "traffic-signal", signing.AlgEd25519)
	c := startCityWith(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
		cfg.AuditLimits.Burst = 1000
	}, func(ctx context.Context, reg *devices.Registry) {
		pub := ts.key.Public()
		if err := reg.Enroll(ctx, devices.Device{ID: ts.id, Zone: ts.zone, Kind: ts.kind, Params: json.RawMessage(trafficSignalPlan), Keys: []devices.Key{{
			KID: ts.kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}}); err != nil {
			t.Fatal(err)
		}
	})
	c.devs[ts.id] = ts
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	sl1 := c.connect(t, "sl-1", "")
	for i := range 60 {
		publish(t, sl1, fmt.Sprintf("city/z1/sl-1/older-%02d/x/y", i), 0, []byte("x"))
	}
	for range 60 {
		nextEvent(t, events)
	}

	ctx := browser(t)
	url := "http://" + c.srv.HTTPAddr() + broker.DashboardPath
	signInAs(t, ctx, url, "admin")

	// Paging: the newest page lacks the first events; "Older events" adds them.
	do(t, ctx, "the newest events", chromedp.WaitVisible(chromedp.CSS(`#events tr[data-reason="bad_topic"]`)))
	if first := textNow(t, ctx, "#events"); strings.Contains(first, "older-00/") || !strings.Contains(first, "older-59/") {
		t.Fatalf("first page of events should hold older-59 and not older-00: %q", first)
	}
	do(t, ctx, "older events", chromedp.Click(chromedp.CSS("#events-older")), chromedp.WaitVisible(chromedp.CSS("#events tr.older")))
	waitJS(t, ctx, "the oldest event", `document.getElementById("events").textContent.includes("older-00/")`)

	// The store's state, from the check /readyz makes.
	do(t, ctx, "store state", chromedp.WaitVisible(chromedp.CSS(`#status-store[data-ready="true"]`)))
	if s := textNow(t, ctx, "#status-store"); !strings.Contains(s, "bbolt") || !strings.Contains(s, "ready") {
		t.Fatalf("store state %q", s)
	}

	// Connection state and the chart, live.
	do(t, ctx, "sl-2 offline", chromedp.WaitVisible(chromedp.CSS(`#zones tr[data-device="sl-2"][data-connected="false"]`)))
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](`Number(document.getElementById("chart-accepted").textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	sl2 := c.connect(t, "sl-2", "")
	do(t, ctx, "sl-2 connected", chromedp.WaitVisible(chromedp.CSS(`#zones tr[data-device="sl-2"][data-connected="true"]`)))
	if row := textNow(t, ctx, `#zones tr[data-device="sl-2"]`); !strings.Contains(row, "connected since") || !strings.Contains(row, "127.0.0.1") {
		t.Fatalf("sl-2's row while connected: %q", row)
	}
	const tp = "city/z1/sl-2/state"
	for _, level := range []int{10, 20, 30} {
		publish(t, sl2, tp, 1, c.devs["sl-2"].sign(t, tp, fmt.Appendf(nil, `{"on":true,"level":%d}`, level)))
	}
	waitJS(t, ctx, "the chart's accepted count", fmt.Sprintf(`Number(document.getElementById("chart-accepted").textContent) >= %d`, before+3))
	waitJS(t, ctx, "sl-2's last state", `document.querySelector('#zones tr[data-device="sl-2"]').textContent.includes("level=30")`)
	waitJS(t, ctx, "sl-2's last seen time", `document.querySelector('#zones tr[data-device="sl-2"] td.seen').textContent !== "never"`)
	sl2.Disconnect(100)
	do(t, ctx, "sl-2 offline again", chromedp.WaitVisible(chromedp.CSS(`#zones tr[data-device="sl-2"][data-connected="false"]`)))

	// A traffic signal's conflicting greens: accepted, recorded as a fault.
	tsc := c.connect(t, "ts-1", "")
	now := time.Now().UnixMilli()
	const tsTopic = "city/z1/ts-1/state"
	publish(t, tsc, tsTopic, 1, ts.sign(t, tsTopic, fmt.Appendf(nil, `{"mode":"normal","boot":%d,"groups":{"2":{"state":"red","since":%d},"4":{"state":"red","since":%d}}}`, now-60000, now-30000, now-30000)))
	do(t, ctx, "the signal's card", chromedp.WaitVisible(chromedp.CSS(`#signals .signal[data-device="ts-1"] .head[data-group="2"][data-state="red"]`)))
	publish(t, tsc, tsTopic, 1, ts.sign(t, tsTopic, fmt.Appendf(nil, `{"groups":{"2":{"state":"green","since":%d},"4":{"state":"green","since":%d}}}`, now-1000, now-1000)))
	do(t, ctx, "the fault",
		chromedp.WaitVisible(chromedp.CSS(`#signals .signal[data-device="ts-1"] .fault[data-reason="conflict"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#faults li[data-device="ts-1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#signals .signal[data-device="ts-1"] .head[data-group="4"][data-state="green"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#zones tr[data-device="ts-1"] .fault-badge`)),
	)
	if n := textNow(t, ctx, "#fault-count"); n != "1" {
		t.Fatalf("fault count %q, want 1", n)
	}
	if card := textNow(t, ctx, `#signals .signal[data-device="ts-1"]`); !strings.Contains(card, "FAULT conflict") || !strings.Contains(card, "green") {
		t.Fatalf("signal card %q", card)
	}
	if path := os.Getenv("SIGNET_DASHBOARD_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(strings.TrimSuffix(path, ".png")+"-live.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// signInWrapped opens the dashboard, runs script (what, a wrapper of the
// page's fetch) in it before anyone signs in, then submits the sign-in form
// as user and returns without waiting for what follows.
func signInWrapped(t *testing.T, ctx context.Context, url, what, script, user string) {
	t.Helper()
	do(t, ctx, "open", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#login")))
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script)); err != nil || !ok {
		t.Fatalf("%s: %v", what, err)
	}
	do(t, ctx, "sign in as "+user,
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-button")),
	)
}

// tapStream makes the page keep a copy of everything GET /api/v1/stream
// sends it (window.__sse), by wrapping fetch before signing in.
const tapStream = `(() => {
  const of = window.fetch.bind(window);
  window.__sse = "";
  window.fetch = async (...a) => {
    const r = await of(...a);
    if (!String(a[0]).includes("/api/v1/stream") || !r.body) return r;
    const [mine, copy] = r.body.tee();
    (async () => {
      const rd = copy.getReader(), dec = new TextDecoder();
      for (;;) { const { value, done } = await rd.read(); if (done) break; window.__sse += dec.decode(value, { stream: true }); }
    })();
    return new Response(mine, { status: r.status, headers: r.headers });
  };
  return true;
})()`

// holdReread makes the page hold the answer to its second GET
// /api/v1/twins, the re-read after the stream's hello, from the moment it
// arrives (window.__held) until the test sets window.__release. Once the
// page has read that answer and done what it does with it (its promise
// callbacks run before any timer), window.__used is set.
const holdReread = `(() => {
  const of = window.fetch.bind(window);
  let twins = 0;
  window.__held = false;
  window.__release = false;
  window.__used = false;
  window.fetch = async (...a) => {
    const r = await of(...a);
    if (!String(a[0]).includes("/api/v1/twins") || ++twins !== 2) return r;
    const body = await r.text();
    window.__held = true;
    await new Promise((resolve) => { const wait = () => window.__release ? resolve() : setTimeout(wait, 20); wait(); });
    const held = new Response(body, { status: r.status, headers: r.headers });
    const json = held.json.bind(held);
    held.json = async () => { const v = await json(); setTimeout(() => { window.__used = true; }, 0); return v; };
    return held;
  };
  return true;
})()`

// TestDashboardRereadKeepsNewerStreamChangesInChromium: the twins the page
// reads again on the stream's hello were made before a device connected and
// changed; that answer reaches the page only after the stream has told it
// both. The page must go on showing the newer state, not the re-read's.
func TestDashboardRereadKeepsNewerStreamChangesInChromium(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
	})
	ctx := browser(t)
	url := "http://" + c.srv.HTTPAddr() + broker.DashboardPath
	signInWrapped(t, ctx, url, "holding the re-read", holdReread, "viewer-z1")
	waitJS(t, ctx, "the re-read's answer", `window.__held`) // made before sl-1 connects

	const row = `document.querySelector('#zones tr[data-device="sl-1"]')`
	sl := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	publish(t, sl, tp, 1, c.devs["sl-1"].sign(t, tp, []byte(`{"on":true,"level":88}`)))
	waitJS(t, ctx, "sl-1's change from the stream", row+` && `+row+`.textContent.includes("level=88")`)

	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__release = true`)); err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, "the re-read used", `window.__used`)
	waitJS(t, ctx, "the stream shown live", `document.getElementById("live").textContent === "live"`)
	// Using the answer queued a render; a frame callback queued now runs
	// after it.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise((resolve) => requestAnimationFrame(() => resolve(`+row+`.textContent)))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "level=88") || !strings.Contains(got, "connected since") {
		t.Fatalf("after the re-read, sl-1's row is %q; want its state from the stream (level=88) and its connection", got)
	}
}

// TestDashboardViewerStreamInChromium: a z1 viewer's dashboard gets z1's
// changes live, while nothing of z2 (aq-9, which publishes first) reaches
// the page over the stream or shows on it, and no security event either.
func TestDashboardViewerStreamInChromium(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) {
		cfg.HTTP = "127.0.0.1:0"
		noLoginBackoff(cfg)
	})
	admin := c.connect(t, "ops-console", "admin")
	aqTwin := subscribe(t, admin, "$twin/z2/aq-9/reported")
	ctx := browser(t)
	url := "http://" + c.srv.HTTPAddr() + broker.DashboardPath
	signInWrapped(t, ctx, url, "tapping the stream", tapStream, "viewer-z1")
	waitJS(t, ctx, "the stream's hello", `window.__sse.includes("event: hello")`)

	aq := c.connect(t, "aq-9", "")
	const aqTopic = "city/z2/aq-9/state"
	publish(t, aq, aqTopic, 1, c.devs["aq-9"].sign(t, aqTopic, []byte(`{"pm25":31,"units":{"pm25":"ug/m3"}}`)))
	publish(t, aq, "city/z2/aq-9/bogus/x/y", 0, []byte("x")) // a z2 security event
	for {                                                    // aq-9's change is durable and published: the stream has had its turn at it
		if m := aqTwin.next(t); strings.Contains(string(m.Payload()), "31") {
			break
		}
	}
	sl := c.connect(t, "sl-1", "")
	const tp = "city/z1/sl-1/state"
	publish(t, sl, tp, 1, c.devs["sl-1"].sign(t, tp, []byte(`{"on":true,"level":88}`)))
	waitJS(t, ctx, "sl-1's change", `document.querySelector('#zones tr[data-device="sl-1"]') && document.querySelector('#zones tr[data-device="sl-1"]').textContent.includes("level=88")`)
	waitJS(t, ctx, "sl-1's change on the stream", `window.__sse.includes('"level":88')`)

	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__sse`))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"aq-9", `"z2"`, "event: security", "bogus"} {
		if strings.Contains(got, leak) {
			t.Fatalf("the z1 viewer's stream carried %q:\n%s", leak, got)
		}
	}
	if page := textNow(t, ctx, "#main"); strings.Contains(page, "aq-9") || strings.Contains(page, "zone z2") {
		t.Fatalf("the z1 viewer's page shows z2: %q", page)
	}
}
