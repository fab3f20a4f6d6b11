// Signet operator dashboard: polls the broker's read API with the operator's
// own credentials (HTTP basic or bearer token, the same role and zone rules
// as MQTT) and renders twins by zone, rejections by reason and the live
// security events. Everything from the API is inserted as text, never as
// HTML: topics and client ids in security events come from attackers.
"use strict";

const POLL_MS = 2000;
let auth = null;      // the Authorization header value; kept in memory only
let timer = null;

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
  clearTimeout(timer);
  timer = null;
  auth = null;
  $("password").value = "";
  $("token").value = "";
  $("main").hidden = true;
  $("who").hidden = true;
  $("login-panel").hidden = false;
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
  render(r.body, null);
  poll();
}

async function poll() {
  clearTimeout(timer);
  let twins, events;
  try {
    [twins, events] = await Promise.all([api("/api/v1/twins"), api("/api/v1/events?n=200")]);
  } catch (e) {
    status("Broker unreachable: " + e.message + " (retrying)");
    if (auth) timer = setTimeout(poll, POLL_MS);
    return;
  }
  if (twins.status === 401 || events.status === 401) {
    signOut("The broker no longer accepts these credentials (HTTP 401 Unauthorized). Sign in again.");
    return;
  }
  if (twins.status !== 200) {
    status("Reading twins failed (HTTP " + twins.status + "): " + twins.text);
  } else {
    status("");
    render(twins.body, events);
  }
  if (auth) timer = setTimeout(poll, POLL_MS);
}

function status(msg) {
  $("status").textContent = msg;
  $("status").hidden = !msg;
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

function render(docs, events) {
  let accepted = 0, rejected = 0;
  const twinReasons = {};
  const byZone = new Map();
  for (const d of docs) {
    if (!byZone.has(d.zone)) byZone.set(d.zone, []);
    byZone.get(d.zone).push(d);
    const sec = d.security || {};
    accepted += sec.accepted || 0;
    for (const [r, n] of Object.entries(sec.rejected || {})) {
      rejected += n;
      twinReasons[r] = (twinReasons[r] || 0) + n;
    }
  }
  const zones = $("zones");
  zones.replaceChildren();
  for (const zone of [...byZone.keys()].sort()) {
    const sec = el("div", null, "zone");
    sec.dataset.zone = zone;
    sec.appendChild(el("h3", "zone " + zone));
    const table = el("table");
    const head = el("tr");
    for (const h of ["device", "kind", "version", "reported", "last ctr", "accepted", "rejected"]) head.appendChild(el("th", h));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    for (const d of byZone.get(zone)) {
      const sec = d.security || {};
      const rej = Object.values(sec.rejected || {}).reduce((a, b) => a + b, 0);
      const tr = el("tr");
      tr.dataset.device = d.device;
      tr.appendChild(el("td", d.device));
      tr.appendChild(el("td", d.kind));
      tr.appendChild(el("td", d.version, "num"));
      tr.appendChild(el("td", summary(d.reported), "fields"));
      tr.appendChild(el("td", sec.last_ctr || 0, "num"));
      tr.appendChild(el("td", sec.accepted || 0, "num"));
      tr.appendChild(el("td", rej, rej ? "num rej" : "num"));
      body.appendChild(tr);
    }
    table.appendChild(body);
    sec.appendChild(table);
    zones.appendChild(sec);
  }
  $("count-devices").textContent = docs.length;
  $("count-accepted").textContent = accepted;

  // Rejections by reason: from the security events when the role may read
  // them (every rejection, also those no twin can count: bad_topic,
  // zone_mismatch), else from the twins' own counters.
  let reasons = twinReasons, source = "from the security counters of your zones' twins";
  const note = $("events-note"), evBody = document.querySelector("#events tbody");
  if (events && events.status === 200) {
    note.hidden = true;
    reasons = {};
    let n = 0;
    evBody.replaceChildren();
    const list = events.body.slice().reverse(); // newest first
    for (const e of list) {
      // A "suppressed" event stands for count events past a source's
      // burst that the broker counted instead of writing one by one.
      const k = e.kind === "rejected" ? 1 : e.kind === "suppressed" && e.of_kind === "rejected" ? e.count : 0;
      if (k > 0) {
        reasons[e.reason] = (reasons[e.reason] || 0) + k;
        n += k;
      }
      const tr = el("tr");
      tr.dataset.reason = e.reason;
      tr.appendChild(el("td", new Date(e.time).toLocaleTimeString()));
      const rc = el("td");
      rc.appendChild(el("span", e.reason, "reason"));
      if (e.kind !== "rejected") rc.appendChild(el("span", " " + e.kind, "hint"));
      tr.appendChild(rc);
      tr.appendChild(el("td", e.device || ""));
      tr.appendChild(el("td", e.client || ""));
      tr.appendChild(el("td", e.topic || "", "topic"));
      tr.appendChild(el("td", e.counter || "", "num"));
      evBody.appendChild(tr);
    }
    rejected = Math.max(rejected, n);
    source = "from the last " + list.length + " security events";
  } else if (events) {
    note.textContent = events.status === 403
      ? "Security events need the auditor or admin role (HTTP 403)."
      : "Reading security events failed (HTTP " + events.status + ").";
    note.hidden = false;
    evBody.replaceChildren();
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
  $("updated").textContent = new Date().toLocaleTimeString();
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", signIn);
});
