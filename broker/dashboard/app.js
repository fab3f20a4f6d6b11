// Signet operator dashboard. It reads the broker's API with the operator's
// own credentials (HTTP basic or bearer token, the same role and zone rules
// as MQTT), then follows GET /api/v1/stream, a server-sent event stream of
// twin changes, connection changes, per-second counts and (for auditors and
// admins) security events. The stream is read with fetch rather than
// EventSource because EventSource cannot send an Authorization header.
//
// Everything from the API is inserted as text (textContent), never as
// HTML: topics, client ids and reported fields come from attackers.
"use strict";

const STATUS_MS = 5000;       // GET /api/v1/status while signed in
const RECONNECT_MS = 3000;    // after a stream ended; the server may say otherwise
const PAGE = 50;              // events per page of GET /api/v1/events
const RECENT_MAX = 500;       // security events kept for the reasons table

let auth = null;              // the Authorization header value; kept in memory only
let session = 0;              // bumped on sign-out: late answers of an old session are ignored
let abort = null;             // ends the current stream
const state = {
  docs: new Map(),            // device -> twin document (with "connection")
  recent: [],                 // security events, newest first, for the reasons
  rates: [],                  // {t, accepted, rejected}, oldest first
  rateSeconds: 300,
  next: "",                   // cursor of the next older page of events
  eventsAllowed: false,
  status: null,
  since: null,                // devices the stream told of while a re-read was asked (reread)
};
let renderQueued = false;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function basic(user, pass) {
  const bytes = new TextEncoder().encode(user + ":" + pass);
  let bin = "";
  bytes.forEach((b) => { bin += String.fromCharCode(b); });
  return "Basic " + btoa(bin);
}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: auth }, cache: "no-store" });
  if (resp.status === 200) return { status: 200, body: await resp.json() };
  return { status: resp.status, text: (await resp.text()).trim() };
}

function showLoginError(msg) {
  const e = $("login-error");
  e.textContent = msg;
  e.hidden = false;
}

function signOut(msg) {
  session++;
  if (abort) abort.abort();
  abort = null;
  auth = null;
  state.docs = new Map();
  state.recent = [];
  state.rates = [];
  state.next = "";
  state.since = null;
  $("password").value = "";
  $("token").value = "";
  $("main").hidden = true;
  $("who").hidden = true;
  $("login-panel").hidden = false;
  document.querySelector("#events tbody").replaceChildren();
  if (msg) showLoginError(msg);
}

async function signIn(ev) {
  ev.preventDefault();
  const user = $("user").value.trim(), pass = $("password").value, token = $("token").value.trim();
  $("login-error").hidden = true;
  if (!token && !user) {
    showLoginError("Enter a user and password, or a token.");
    return;
  }
  auth = token ? "Bearer " + token : basic(user, pass);
  let r;
  try {
    r = await api("/api/v1/twins");
  } catch (e) {
    signOut("Cannot reach the broker: " + e.message);
    return;
  }
  if (r.status === 401) {
    signOut("Sign-in failed (HTTP 401 Unauthorized): wrong user, password or token.");
    return;
  }
  if (r.status !== 200) {
    signOut("Sign-in failed (HTTP " + r.status + "): " + r.text);
    return;
  }
  session++;
  $("password").value = "";
  $("token").value = "";
  $("login-panel").hidden = true;
  $("main").hidden = false;
  const who = $("who");
  who.replaceChildren(el("span", "signed in as " + (token ? "token holder" : user)));
  const out = el("button", "Sign out");
  out.type = "button";
  out.addEventListener("click", () => signOut(""));
  who.appendChild(out);
  who.hidden = false;
  setTwins(r.body);
  const mine = session;
  await loadEvents(mine);
  openStream(mine);
  pollStatus(mine);
}

function setTwins(list) {
  state.docs = new Map();
  for (const d of list || []) if (d && d.device) state.docs.set(d.device, d);
  scheduleRender();
}

// loadEvents reads the recent security events (for the reasons) and the
// newest page of the audit log (for the table). A role without access gets
// a note instead.
async function loadEvents(mine) {
  let recent, page;
  try {
    [recent, page] = await Promise.all([api("/api/v1/events?n=200"), api("/api/v1/events?limit=" + PAGE)]);
  } catch (e) {
    setStatus("Reading security events failed: " + e.message);
    return;
  }
  if (mine !== session) return;
  const note = $("events-note");
  if (recent.status !== 200) {
    state.eventsAllowed = false;
    note.textContent = recent.status === 403
      ? "Security events need the auditor or admin role (HTTP 403)."
      : "Reading security events failed (HTTP " + recent.status + ").";
    note.hidden = false;
    $("events-older").hidden = true;
    scheduleRender();
    return;
  }
  state.eventsAllowed = true;
  note.hidden = true;
  state.recent = recent.body.slice().reverse();
  const body = document.querySelector("#events tbody");
  body.replaceChildren();
  if (page.status === 200) {
    for (const e of page.body.events || []) body.appendChild(eventRow(e));
    setNext(page.body.next);
  } else {
    for (const e of state.recent) body.appendChild(eventRow(e));
    setNext("");
  }
  scheduleRender();
}

function setNext(next) {
  state.next = next || "";
  const b = $("events-older");
  b.hidden = !state.eventsAllowed;
  b.disabled = !state.next;
  b.textContent = state.next ? "Older events" : "No older events";
}

async function older() {
  if (!state.next) return;
  const mine = session;
  let r;
  try {
    r = await api("/api/v1/events?limit=" + PAGE + "&before=" + encodeURIComponent(state.next));
  } catch (e) {
    setStatus("Reading older events failed: " + e.message);
    return;
  }
  if (mine !== session) return;
  if (r.status !== 200) {
    setStatus("Reading older events failed (HTTP " + r.status + "): " + r.text);
    return;
  }
  const body = document.querySelector("#events tbody");
  for (const e of r.body.events || []) body.appendChild(eventRow(e, true));
  setNext(r.body.next);
}

function eventRow(e, old) {
  const tr = el("tr", null, old ? "older" : "");
  tr.dataset.reason = e.reason || "";
  tr.dataset.kind = e.kind || "";
  if (e.seq) tr.dataset.seq = e.seq;
  tr.appendChild(el("td", e.time ? new Date(e.time).toLocaleTimeString() : ""));
  const rc = el("td");
  rc.appendChild(el("span", e.reason || "", "reason"));
  if (e.kind !== "rejected") rc.appendChild(el("span", " " + (e.kind || ""), "hint"));
  tr.appendChild(rc);
  tr.appendChild(el("td", e.device || ""));
  tr.appendChild(el("td", e.client || ""));
  tr.appendChild(el("td", e.topic || "", "topic"));
  tr.appendChild(el("td", e.counter || "", "num"));
  return tr;
}

async function pollStatus(mine) {
  if (mine !== session) return;
  try {
    const r = await api("/api/v1/status");
    if (mine !== session) return;
    if (r.status === 401) {
      signOut("The broker no longer accepts these credentials (HTTP 401 Unauthorized). Sign in again.");
      return;
    }
    if (r.status === 200) {
      state.status = r.body;
      renderStatus();
    }
  } catch (e) {
    renderStatus("unreachable: " + e.message);
  }
  setTimeout(() => pollStatus(mine), STATUS_MS);
}

function setStatus(msg) {
  $("status").textContent = msg;
  $("status").hidden = !msg;
}

function setLive(text, ok) {
  const l = $("live");
  l.textContent = text;
  l.className = "live " + (ok ? "on" : "off");
}

// openStream follows GET /api/v1/stream until it ends, then reconnects and
// reloads (what happened meanwhile is not replayed).
async function openStream(mine) {
  if (mine !== session) return;
  const ctl = new AbortController();
  abort = ctl;
  let wait = RECONNECT_MS;
  try {
    const resp = await fetch("/api/v1/stream", { headers: { Authorization: auth }, cache: "no-store", signal: ctl.signal });
    if (resp.status === 401) {
      signOut("The broker no longer accepts these credentials (HTTP 401 Unauthorized). Sign in again.");
      return;
    }
    if (resp.status !== 200) {
      const text = (await resp.text()).trim();
      setLive("not live", false);
      setStatus("Live updates refused (HTTP " + resp.status + "): " + text);
      const ra = parseInt(resp.headers.get("Retry-After") || "", 10);
      if (ra > 0) wait = ra * 1000;
    } else {
      await readStream(resp.body.getReader(), mine, (ms) => { wait = ms; });
    }
  } catch (e) {
    if (mine !== session) return;
    setLive("reconnecting", false);
  }
  if (mine !== session) return;
  setLive("reconnecting", false);
  setTimeout(() => openStream(mine), wait);
}

// readStream parses text/event-stream (WHATWG HTML §9.2.6): events are
// separated by a blank line; "event:" and "data:" lines, ":" comments.
async function readStream(reader, mine, setRetry) {
  const dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done || mine !== session) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let type = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const field = c < 0 ? line : line.slice(0, c);
        const val = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
        if (field === "event") type = val;
        else if (field === "data") data += (data ? "\n" : "") + val;
        else if (field === "retry" && /^\d+$/.test(val)) setRetry(parseInt(val, 10));
      }
      if (data) {
        let msg;
        try { msg = JSON.parse(data); } catch (e) { continue; }
        onStream(type, msg, mine);
      }
    }
  }
}

function onStream(type, msg, mine) {
  switch (type) {
  case "hello":
    setStatus("");
    state.rateSeconds = msg.rate_seconds || state.rateSeconds;
    state.rates = Array.isArray(msg.rates) ? msg.rates : [];
    reread(mine);
    break;
  case "twin":
    if (msg && msg.device) {
      state.docs.set(msg.device, msg);
      if (state.since) state.since.add(msg.device);
    }
    break;
  case "conn": {
    const d = state.docs.get(msg.device);
    if (d) d.connection = msg.connection;
    if (state.since) state.since.add(msg.device);
    break;
  }
  case "security": {
    state.recent.unshift(msg);
    if (state.recent.length > RECENT_MAX) state.recent.length = RECENT_MAX;
    const body = document.querySelector("#events tbody");
    body.insertBefore(eventRow(msg), body.firstChild);
    break;
  }
  case "rate": // the chart alone: the tables stay as they are
    state.rates.push(msg);
    while (state.rates.length > state.rateSeconds) state.rates.shift();
    renderChart();
    return;
  case "seen": // device -> when the broker last accepted a message from it
    for (const [dev, t] of Object.entries(obj(msg) || {})) {
      const d = state.docs.get(dev);
      if (!d) continue;
      d.connection = Object.assign({}, obj(d.connection) || {}, { last_seen: t });
      if (state.since) state.since.add(dev);
      const cell = document.querySelector('#zones tr[data-device="' + CSS.escape(dev) + '"] td.seen');
      if (cell) cell.textContent = seenText(d.connection);
    }
    return; // in place: the tables stay as they are
  case "bye":
    setLive("reconnecting", false);
    break;
  }
  scheduleRender();
}

// reread reads the twins again once a stream is open: what changed while
// none was open is not replayed. The stream's own changes may overtake the
// answer, which the broker made when the request arrived, so a device the
// stream told of meanwhile (state.since) keeps the newer of the two
// documents. The stream is shown live once the two are merged.
function reread(mine) {
  const since = new Set();
  state.since = since;
  const current = () => mine === session && state.since === since;
  api("/api/v1/twins").then((r) => {
    if (!current()) return;
    if (r.status === 200) mergeTwins(r.body, since);
    else setStatus("The twins could not be read again (HTTP " + r.status + "): " + r.text);
  }).catch((e) => {
    if (current()) setStatus("The twins could not be read again: " + e.message);
  }).finally(() => {
    if (!current()) return;
    state.since = null;
    setLive("live", true);
  });
}

// mergeTwins makes the answer of a re-read what is shown, except for the
// devices in since, whose documents the stream updated after the request.
function mergeTwins(list, since) {
  const next = new Map();
  for (const d of list || []) {
    if (!d || !d.device) continue;
    const cur = state.docs.get(d.device);
    next.set(d.device, cur && since.has(d.device) ? newer(cur, d) : d);
  }
  for (const dev of since) { // registered after the answer was made
    if (!next.has(dev) && state.docs.has(dev)) next.set(dev, state.docs.get(dev));
  }
  state.docs = next;
  scheduleRender();
}

// newer is the more recent of two documents of one device: the version
// counts its accepted changes, and between two changes its security counts
// only grow. The connection is the more recent of the two's, by its
// timestamps.
function newer(a, b) {
  const va = Number(a.version) || 0, vb = Number(b.version) || 0;
  const doc = Object.assign({}, va > vb || (va === vb && tally(a) > tally(b)) ? a : b);
  const ca = obj(a.connection) || {}, cb = obj(b.connection) || {};
  const conn = Object.assign({}, connAt(ca) > connAt(cb) ? ca : cb);
  const seen = Math.max(Date.parse(ca.last_seen) || 0, Date.parse(cb.last_seen) || 0);
  if (seen) conn.last_seen = new Date(seen).toISOString();
  doc.connection = conn;
  return doc;
}

// tally is a document's security counts added up.
function tally(d) {
  const sec = obj(d.security) || {};
  let n = Number(sec.accepted) || 0;
  for (const v of Object.values(obj(sec.rejected) || {})) n += Number(v) || 0;
  return n;
}

// connAt is when a connection state last changed.
function connAt(c) {
  return Math.max(Date.parse(c.since) || 0, Date.parse(c.disconnected_at) || 0);
}

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

// summary shows the top-level reported fields as short text: scalars as
// name=value, objects of objects (a signal's groups) by their "state".
function summary(reported) {
  const parts = [];
  for (const [k, v] of Object.entries(reported || {}).sort()) {
    if (v !== null && typeof v === "object") {
      const inner = Object.entries(v).map(([ik, iv]) =>
        ik + "=" + (iv !== null && typeof iv === "object" ? (iv.state ?? JSON.stringify(iv)) : iv));
      parts.push(k + ": " + inner.join(" "));
    } else {
      parts.push(k + "=" + v);
    }
  }
  const s = parts.join(", ");
  return s.length > 160 ? s.slice(0, 157) + "…" : s;
}

function obj(v) { return v !== null && typeof v === "object" && !Array.isArray(v) ? v : null; }

// faultOf is a twin's recorded fault (reported.fault), if any.
function faultOf(d) {
  const rep = obj(d.reported) || {};
  return obj(rep.fault);
}

function clock(t) { return t ? new Date(t).toLocaleTimeString() : ""; }

function connText(c) {
  c = obj(c) || {};
  if (c.connected) return "connected since " + clock(c.since) + (c.remote ? " from " + c.remote : "");
  return c.disconnected_at ? "offline since " + clock(c.disconnected_at) : "not connected";
}

function seenText(c) {
  c = obj(c) || {};
  return c.last_seen ? clock(c.last_seen) : "never";
}

function render() {
  const docs = [...state.docs.values()].sort((a, b) => (a.device < b.device ? -1 : 1));
  let accepted = 0, rejected = 0;
  const twinReasons = {};
  const byZone = new Map();
  for (const d of docs) {
    const zone = String(d.zone ?? "");
    if (!byZone.has(zone)) byZone.set(zone, []);
    byZone.get(zone).push(d);
    const sec = obj(d.security) || {};
    accepted += Number(sec.accepted) || 0;
    for (const [r, n] of Object.entries(obj(sec.rejected) || {})) {
      rejected += Number(n) || 0;
      twinReasons[r] = (twinReasons[r] || 0) + (Number(n) || 0);
    }
  }
  const zones = $("zones");
  zones.replaceChildren();
  for (const zone of [...byZone.keys()].sort()) {
    const box = el("div", null, "zone");
    box.dataset.zone = zone;
    box.appendChild(el("h3", "zone " + zone));
    const table = el("table");
    const head = el("tr");
    for (const h of ["device", "kind", "version", "reported", "connection", "last seen", "accepted", "rejected"]) head.appendChild(el("th", h));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    for (const d of byZone.get(zone)) {
      const sec = obj(d.security) || {};
      const rej = Object.values(obj(sec.rejected) || {}).reduce((a, b) => a + (Number(b) || 0), 0);
      const conn = obj(d.connection) || {};
      const tr = el("tr");
      tr.dataset.device = d.device;
      tr.dataset.connected = conn.connected ? "true" : "false";
      const name = el("td", d.device);
      if (faultOf(d)) name.appendChild(el("span", "fault", "badge fault-badge"));
      tr.appendChild(name);
      tr.appendChild(el("td", d.kind));
      tr.appendChild(el("td", typeof d.version === "object" ? JSON.stringify(d.version) : d.version, "num"));
      tr.appendChild(el("td", summary(obj(d.reported)), "fields"));
      tr.appendChild(el("td", connText(conn), conn.connected ? "conn on" : "conn off"));
      tr.appendChild(el("td", seenText(conn), "seen"));
      tr.appendChild(el("td", Number(sec.accepted) || 0, "num"));
      tr.appendChild(el("td", rej, rej ? "num rej" : "num"));
      body.appendChild(tr);
    }
    table.appendChild(body);
    box.appendChild(table);
    zones.appendChild(box);
  }
  $("count-devices").textContent = docs.length;
  $("count-accepted").textContent = accepted;

  // Rejections by reason: from the security events when the role may read
  // them (every rejection, also those no twin can count: bad_topic,
  // zone_mismatch), else from the twins' own counters.
  let reasons = twinReasons, source = "from the security counters of your zones' twins";
  if (state.eventsAllowed) {
    reasons = {};
    let n = 0;
    for (const e of state.recent) {
      // A "suppressed" event stands for count events past a source's
      // burst that the broker counted instead of writing one by one.
      const k = e.kind === "rejected" ? 1 : e.kind === "suppressed" && e.of_kind === "rejected" ? Number(e.count) || 0 : 0;
      if (k > 0) {
        reasons[e.reason] = (reasons[e.reason] || 0) + k;
        n += k;
      }
    }
    rejected = Math.max(rejected, n);
    source = "from the last " + state.recent.length + " security events";
  }
  $("count-rejected").textContent = rejected;
  const rb = document.querySelector("#reasons tbody");
  rb.replaceChildren();
  for (const [r, n] of Object.entries(reasons).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const tr = el("tr");
    tr.dataset.reason = r;
    const td = el("td");
    td.appendChild(el("span", r, "reason"));
    tr.appendChild(td);
    tr.appendChild(el("td", n, "num"));
    rb.appendChild(tr);
  }
  $("reasons-source").textContent = source;
  renderFaults(docs);
  renderSignals(docs);
  renderChart();
  $("updated").textContent = new Date().toLocaleTimeString();
}

function renderFaults(docs) {
  const list = $("faults");
  list.replaceChildren();
  let n = 0;
  for (const d of docs) {
    const f = faultOf(d);
    if (!f) continue;
    n++;
    const li = el("li");
    li.dataset.device = d.device;
    li.appendChild(el("span", d.device, "dev"));
    li.appendChild(el("span", " zone " + d.zone + ": "));
    li.appendChild(el("span", String(f.reason ?? "fault"), "reason"));
    if (f.detail) li.appendChild(el("span", " " + f.detail, "hint"));
    list.appendChild(li);
  }
  $("fault-count").textContent = n;
  $("faults-panel").classList.toggle("alarm", n > 0);
  $("faults-none").hidden = n > 0;
}

// groupsOf is a signal's heads: reported.groups (or reported.heads), each
// {state, since}.
function groupsOf(d) {
  const rep = obj(d.reported) || {};
  return obj(rep.groups) || obj(rep.heads) || {};
}

// spatOf is the signal's last SPaT (SAE J2735 MovementState by group) if
// the twin carries it.
function spatOf(d) {
  const rep = obj(d.reported) || {};
  const s = obj(d.spat) || obj(rep.spat) || obj(obj(d.telemetry) && d.telemetry.spat);
  return s ? obj(s.groups) || {} : {};
}

const COLOURS = new Set(["green", "yellow", "red", "dark", "flash"]);

function secs(ms) {
  if (!(ms >= 0)) return "";
  const s = Math.round(ms / 1000);
  return s < 120 ? s + "s" : Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0");
}

function sinceText(since, now) { return "for " + secs(now - since); }
function etaText(end, now) { return end > now ? "change in " + secs(end - now) : "changing"; }

// tickSignals counts the signals' timers on in place between updates.
function tickSignals() {
  const now = Date.now();
  for (const e of document.querySelectorAll("#signals .since")) e.textContent = sinceText(Number(e.dataset.since), now);
  for (const e of document.querySelectorAll("#signals .eta")) e.textContent = etaText(Number(e.dataset.end), now);
}

function renderSignals(docs) {
  const box = $("signals");
  box.replaceChildren();
  const now = Date.now();
  let any = false;
  for (const d of docs) {
    if (d.kind !== "traffic-signal") continue;
    any = true;
    const rep = obj(d.reported) || {};
    const card = el("div", null, "signal");
    card.dataset.device = d.device;
    const title = el("h3", d.device + " · zone " + d.zone);
    if (rep.mode !== undefined) title.appendChild(el("span", " " + rep.mode, "hint"));
    card.appendChild(title);
    const f = faultOf(d);
    if (f) {
      card.classList.add("faulted");
      const fe = el("div", null, "fault");
      fe.dataset.reason = String(f.reason ?? "");
      fe.appendChild(el("strong", "FAULT " + (f.reason ?? "")));
      if (f.detail) fe.appendChild(el("span", " " + f.detail));
      if (f.at) fe.appendChild(el("span", " at " + clock(f.at), "hint"));
      card.appendChild(fe);
    }
    const heads = el("div", null, "heads");
    const spat = spatOf(d);
    const groups = groupsOf(d);
    for (const g of Object.keys(groups).sort((a, b) => (Number(a) - Number(b)) || (a < b ? -1 : 1))) {
      const h = obj(groups[g]) || {};
      const colour = COLOURS.has(h.state) ? h.state : "unknown";
      const head = el("div", null, "head");
      head.dataset.group = g;
      head.dataset.state = colour;
      head.appendChild(el("span", null, "lamp lamp-" + colour));
      head.appendChild(el("span", g, "group"));
      head.appendChild(el("span", String(h.state ?? "?"), "state"));
      const since = Number(h.since);
      if (since > 0) {
        const e = el("span", sinceText(since, now), "hint since");
        e.dataset.since = since;
        head.appendChild(e);
      }
      const sp = obj(spat[g]) || {};
      const end = Number(sp.likely ?? sp.min_end);
      if (end > 0) {
        const e = el("span", etaText(end, now), "eta");
        e.dataset.end = end;
        head.appendChild(e);
      }
      if (h.ped !== undefined) head.appendChild(el("span", "ped " + h.ped, "hint"));
      heads.appendChild(head);
    }
    card.appendChild(heads);
    box.appendChild(card);
  }
  $("signals-panel").hidden = !any;
}

function renderChart() {
  const pts = state.rates;
  let acc = 0, rej = 0;
  for (const p of pts) { acc += Number(p.accepted) || 0; rej += Number(p.rejected) || 0; }
  const last = pts.length ? pts[pts.length - 1] : { accepted: 0, rejected: 0 };
  $("chart-accepted").textContent = acc;
  $("chart-rejected").textContent = rej;
  $("chart-last").textContent = (Number(last.accepted) || 0) + " / " + (Number(last.rejected) || 0);
  $("chart-window").textContent = Math.round(state.rateSeconds / 60) + " min";
  const c = $("rate-chart");
  const w = c.width, h = c.height, ctx = c.getContext("2d");
  ctx.clearRect(0, 0, w, h);
  const n = state.rateSeconds;
  let max = 1;
  for (const p of pts) max = Math.max(max, (Number(p.accepted) || 0) + (Number(p.rejected) || 0));
  const bw = w / n, base = h - 14;
  ctx.fillStyle = "#d6dae0";
  ctx.fillRect(0, base, w, 1);
  pts.forEach((p, i) => {
    const x = w - (pts.length - i) * bw;
    const a = (Number(p.accepted) || 0) / max * (base - 4), r = (Number(p.rejected) || 0) / max * (base - 4);
    ctx.fillStyle = "#1a7f37";
    ctx.fillRect(x, base - a, Math.max(bw - 0.5, 1), a);
    ctx.fillStyle = "#b42318";
    ctx.fillRect(x, base - a - r, Math.max(bw - 0.5, 1), r);
  });
  ctx.fillStyle = "#5b6470";
  ctx.font = "11px sans-serif";
  ctx.fillText(max + "/s", 2, 11);
  ctx.fillText("-" + Math.round(n / 60) + " min", 2, h - 2);
  ctx.fillText("now", w - 22, h - 2);
}

function renderStatus(err) {
  const s = state.status;
  const store = $("status-store");
  if (err || !s) {
    store.textContent = err || "unknown";
    store.dataset.ready = "false";
    return;
  }
  const st = obj(s.store) || {};
  store.textContent = (st.kind || "store") + " · " + (st.ready ? "ready" : "not ready" + (st.error ? ": " + st.error : ""));
  store.dataset.ready = st.ready ? "true" : "false";
  store.className = "value small " + (st.ready ? "okc" : "badc");
  $("status-ready").textContent = s.ready ? "ready" : "not ready";
  $("status-version").textContent = s.version || "";
  $("status-uptime").textContent = secs((Number(s.uptime_seconds) || 0) * 1000);
  $("status-connected").textContent = (s.connected_devices ?? 0) + " of " + (s.devices ?? 0) + " devices" +
    (s.clients !== undefined ? ", " + s.clients + " clients" : "");
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", signIn);
  $("events-older").addEventListener("click", older);
  setInterval(tickSignals, 1000);
});
