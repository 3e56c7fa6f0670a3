// The fsreplica dashboard: reads the daemon's public API (/api/v1) and nothing else.
// Plain JavaScript, no build step and no network beyond the daemon that serves it.
"use strict";

const API = "api/v1";
const HOUR = 3600;
const FEED_MAX = 200;
const STATES = {
  live: ["ok", "\u2713", "live"],
  starting: ["busy", "\u21bb", "starting"],
  reconciling: ["busy", "\u21bb", "reconciling"],
  "catching-up": ["busy", "\u21bb", "catching up"],
  "deletes-refused": ["warn", "\u26a0", "deletes refused"],
  "destination-down": ["bad", "\u2715", "destination down"],
  "source-gone": ["bad", "\u2715", "source gone"],
  failed: ["bad", "\u2715", "failed"],
  standby: ["off", "\u23f8", "standby"],
  disabled: ["off", "\u23f8", "disabled"],
};

const $ = (sel, root = document) => root.querySelector(sel);
const policies = new Map(); // id -> {policy, status, card}
const samples = new Map(); // id -> [{t, lag, bytes}] from put/delete events, last hour
let since = 0;
let refreshTimer = null;

function token() {
  return sessionStorage.getItem("fsreplica-token");
}

class Unauthorized extends Error {}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 401) throw new Unauthorized();
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${method} ${path}: ${response.status}`);
  return data;
}

function showLogin(message) {
  $("#login").hidden = false;
  $("#board").hidden = true;
  $("#feed-section").hidden = true;
  $("#login-error").textContent = message || "";
  $("#summary").textContent = "sign in to see the policies";
  $("#token").focus();
}

function human(n, unit) {
  const units = ["", "Ki", "Mi", "Gi", "Ti"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}${unit}`;
}

function seconds(s) {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function ago(t) {
  return t ? `${seconds(Math.max(0, Date.now() / 1000 - t))} ago` : "never";
}

function confirmThen(text, action) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  dialog.onclose = () => { if (dialog.returnValue === "ok") action(); };
  dialog.returnValue = "";
  dialog.showModal();
}

function card(id) {
  let entry = policies.get(id);
  if (entry && entry.card) return entry.card;
  const node = $("#policy-card").content.firstElementChild.cloneNode(true);
  node.dataset.policy = id;
  $(".name", node).textContent = id;
  $(".sync", node).addEventListener("click", () =>
    confirmThen(`Start a full sync of ${id} now?`, () => act(id, "sync")));
  $(".toggle", node).addEventListener("click", () => {
    const enabled = policies.get(id).policy?.enabled !== false;
    confirmThen(`${enabled ? "Disable" : "Enable"} ${id}?`, () => act(id, enabled ? "disable" : "enable"));
  });
  $("#policies").append(node);
  entry = policies.get(id) || {};
  entry.card = node;
  policies.set(id, entry);
  return node;
}

async function act(id, what) {
  try {
    if (what === "sync") {
      const job = await api(`/policies/${encodeURIComponent(id)}/sync`, { method: "POST" });
      note(`sync of ${id} queued (job ${job.id ?? "?"})`);
    } else {
      await api(`/policies/${encodeURIComponent(id)}`, { method: "PATCH", body: { enabled: what === "enable" } });
      note(`${id} ${what}d`);
    }
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
    note(`${id}: ${err.message}`, true);
  }
  refreshSoon();
}

function note(text, bad = false) {
  feedItem({ time: Date.now() / 1000, kind: bad ? "error" : "note", detail: text });
}

function chart(svg, id) {
  const now = Date.now() / 1000;
  const buckets = new Array(60).fill(0);
  for (const s of samples.get(id) || []) {
    const i = Math.floor((s.t - (now - HOUR)) / 60);
    if (i >= 0 && i < 60 && s.lag != null) buckets[i] = Math.max(buckets[i], s.lag);
  }
  const top = Math.max(...buckets, 0.001);
  const points = buckets.map((v, i) => `${(i * 300) / 59},${58 - (v / top) * 54}`).join(" ");
  svg.replaceChildren();
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  svg.setAttribute("aria-label", `replication lag over the last hour, peak ${seconds(top === 0.001 ? 0 : top)}`);
}

function throughput(id) {
  const now = Date.now() / 1000;
  let bytes = 0, files = 0;
  for (const s of samples.get(id) || []) {
    if (s.t >= now - 60 && s.bytes != null) { bytes += s.bytes; files += 1; }
  }
  return `${(files / 60).toFixed(1)} files/s, ${human(bytes / 60, "B/s")}`;
}

function render(status) {
  const seen = new Set();
  let attention = 0, live = 0;
  for (const st of status.policies) {
    seen.add(st.id);
    const entry = policies.get(st.id) || {};
    entry.status = st;
    policies.set(st.id, entry);
    const node = card(st.id);
    const [tone, icon, label] = STATES[st.state] || ["off", "?", st.state];
    node.className = `policy s-${tone}`;
    $(".state .icon", node).textContent = icon;
    $(".state .label", node).textContent = label;
    if (tone === "bad" || tone === "warn") attention += 1;
    if (st.state === "live") live += 1;
    const p = entry.policy;
    $(".route", node).textContent = p ? `${p.source} \u2192 ${p.destination}` : "";
    $(".detail", node).textContent = st.detail || "";
    $(".pending", node).textContent = String(st.pending);
    $(".lag", node).textContent = seconds(st.lag || 0);
    $(".throughput", node).textContent = throughput(st.id);
    $(".copied", node).textContent = `${st.files} files, ${human(st.bytes, "B")}`;
    $(".reconciled", node).textContent = st.last_reconcile
      ? `${ago(st.last_reconcile)}${st.last_reconcile_result ? `: ${st.last_reconcile_result}` : ""}`
      : "not yet";
    const failing = $(".failing", node);
    failing.hidden = !st.failures;
    $("summary", failing).textContent = `${st.failures} failing path${st.failures === 1 ? "" : "s"}`;
    $("ul", failing).replaceChildren(...st.failing.map((f) => {
      const li = document.createElement("li");
      li.textContent = `${f.op} ${f.path}: ${f.reason}`;
      return li;
    }));
    const enabled = p ? p.enabled !== false : st.state !== "disabled";
    $(".toggle", node).textContent = enabled ? "Disable" : "Enable";
    $(".sync", node).disabled = !enabled;
    chart($(".lag-chart", node), st.id);
  }
  for (const [id, entry] of policies) {
    if (!seen.has(id)) { entry.card?.remove(); policies.delete(id); }
  }
  const n = status.policies.length;
  $("#summary").textContent = `${n} polic${n === 1 ? "y" : "ies"} \u00b7 ${live} live \u00b7 ` +
    `${attention} need${attention === 1 ? "s" : ""} attention \u00b7 ${status.ready ? "all caught up" : "not all live"}`;
}

async function refresh() {
  refreshTimer = null;
  try {
    const [list, status] = await Promise.all([api("/policies"), api("/status")]);
    for (const p of list.policies ?? list) {
      const entry = policies.get(p.id) || {};
      entry.policy = p;
      policies.set(p.id, entry);
    }
    $("#login").hidden = true;
    $("#board").hidden = false;
    $("#feed-section").hidden = false;
    render(status);
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
    $("#summary").textContent = `daemon unreachable: ${err.message}`;
  }
}

function refreshSoon() {
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, 250);
}

function feedItem(ev) {
  const li = document.createElement("li");
  li.dataset.kind = ev.kind;
  const time = document.createElement("time");
  const when = new Date(ev.time * 1000);
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString();
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = ev.kind;
  const text = [ev.policy, ev.path, ev.detail].filter(Boolean).join(" \u00b7 ");
  li.append(time, kind, document.createTextNode(text));
  if (ev.lag != null) li.append(document.createTextNode(` (${seconds(ev.lag)})`));
  const feed = $("#feed");
  feed.prepend(li);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
}

function remember(ev) {
  if (!ev.policy || (ev.kind !== "put" && ev.kind !== "delete" && ev.kind !== "rename")) return;
  const list = samples.get(ev.policy) || [];
  list.push({ t: ev.time, lag: ev.lag, bytes: ev.kind === "put" ? ev.bytes : null });
  const cut = Date.now() / 1000 - HOUR;
  while (list.length && list[0].t < cut) list.shift();
  samples.set(ev.policy, list);
}

async function follow() {
  for (;;) {
    try {
      const page = await api(`/events?since=${since}&timeout=${since ? 25 : 0}`);
      if (since && page.first > since + 1) note(`${page.first - since - 1} events missed (the daemon keeps a bounded buffer)`);
      for (const ev of page.events) { remember(ev); feedItem(ev); }
      since = page.next;
      if (page.events.length) refreshSoon();
    } catch (err) {
      if (err instanceof Unauthorized) { showLogin(); return; }
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

let following = false;

async function start() {
  // The page is served on the TCP listener, which asks for the token: without one, ask for it
  // before any request (a 401 would only add an error to the browser's console).
  if (!token()) return showLogin();
  await refresh();
  if (!$("#board").hidden && !following) {
    following = true;
    follow().finally(() => { following = false; });
  }
}

setInterval(() => { if (following) refresh(); }, 5000);

$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("fsreplica-token", $("#token").value.trim());
  $("#token").value = "";
  start().then(() => { if (!$("#login").hidden) showLogin("that token was refused"); });
});

start();
