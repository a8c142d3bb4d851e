// gudang dashboard: plain JavaScript, no build step. Reads /api/v1 with the
// API key kept in this browser (localStorage), listens to /api/v1/events.
"use strict";

const T = {
  id: {
    racks: "Rak", alerts: "Peringatan", reorder: "Pesan ulang", devices: "Perangkat",
    online: "langsung", offline: "terputus", enter_key: "Masukkan kunci API", save: "Simpan",
    back: "Kembali", movements: "Pergerakan", time: "Waktu", bin: "Rak", kind: "Jenis",
    qty: "Jumlah", by: "Oleh", no_alerts: "Tidak ada peringatan aktif.", name: "Nama",
    stock: "Stok", reorder_point: "Titik pesan", suggest: "Saran pesan", type: "Tipe",
    state: "Status", last_reading: "Bacaan terakhir", ack: "Tangani", your_name: "Nama Anda",
    note: "Catatan", acked_by: "ditangani oleh", bad_key: "Kunci API ditolak",
    pick: "ambil", put: "taruh", anomaly: "tidak wajar", rack: "Rak",
    status_ok: "aman", status_low: "menipis", status_critical: "kritis", status_unknown: "belum ada data",
    ago: "lalu", history: "Riwayat 7 hari", clock_ahead: "jam maju", sign_out: "Keluar",
  },
  en: {
    racks: "Racks", alerts: "Alerts", reorder: "Reorder", devices: "Devices",
    online: "live", offline: "disconnected", enter_key: "Enter API key", save: "Save",
    back: "Back", movements: "Movements", time: "Time", bin: "Bin", kind: "Kind",
    qty: "Quantity", by: "By", no_alerts: "No active alerts.", name: "Name",
    stock: "Stock", reorder_point: "Reorder point", suggest: "Suggested order", type: "Type",
    state: "State", last_reading: "Last reading", ack: "Acknowledge", your_name: "Your name",
    note: "Note", acked_by: "acknowledged by", bad_key: "API key refused",
    pick: "pick", put: "put", anomaly: "anomaly", rack: "Rack",
    status_ok: "ok", status_low: "low", status_critical: "critical", status_unknown: "no data yet",
    ago: "ago", history: "Last 7 days", clock_ahead: "clock ahead", sign_out: "Sign out",
  },
};
const UNIT = { id: { pcs: "batang", kg: "kg", m: "m" }, en: { pcs: "pcs", kg: "kg", m: "m" } };

const state = { lang: localStorage.getItem("gudang.lang") || "id", skus: {}, bins: {}, alerts: {} };
const $ = (sel) => document.querySelector(sel);
const t = (k) => T[state.lang][k] || k;
const fmt = (n) => n == null ? "–" : Number(n).toLocaleString(state.lang === "id" ? "id-ID" : "en-GB", { maximumFractionDigits: 1 });
const when = (ms) => ms ? new Date(ms).toLocaleString(state.lang === "id" ? "id-ID" : "en-GB") : "–";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function key() { return localStorage.getItem("gudang.key") || ""; }

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { Authorization: `Bearer ${key()}`, "Content-Type": "application/json", ...(options.headers || {}) } });
  if (res.status === 401) { showLogin(t("bad_key")); throw new Error("unauthorized"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function translate() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("#lang").textContent = state.lang === "id" ? "EN" : "ID";
  $("#live").textContent = t($("#live").classList.contains("on") ? "online" : "offline");
}

function showLogin(message) {
  $("#signout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  document.querySelectorAll(".view").forEach((v) => { v.hidden = true; });
}

// --- racks ----------------------------------------------------------------

function binCard(b) {
  const sku = state.skus[b.sku];
  const status = sku ? sku.status : "unknown";
  // The width is set after rendering (renderRacks): the CSP allows no inline style.
  const fill = b.fill == null ? "" : `<div class="fill"><div data-fill="${Math.round(b.fill * 100)}"></div></div>`;
  return `<div class="bin ${status}" data-bin="${esc(b.bin)}" data-sku="${esc(b.sku)}" title="${esc(t("status_" + status))}">
    <div class="id">${esc(b.bin)}</div><div class="name">${esc(sku ? sku.name : b.sku)}</div>
    <div><span class="qty">${fmt(b.quantity)}</span> <span class="unit">${esc(UNIT[state.lang][b.unit] || b.unit)}</span></div>${fill}</div>`;
}

function renderRacks() {
  const racks = {};
  Object.values(state.bins).forEach((b) => { (racks[b.rack] ||= []).push(b); });
  $("#racks").innerHTML = Object.keys(racks).sort().map((r) =>
    `<div class="rack"><h2>${esc(t("rack"))} ${esc(r)}</h2><div class="bins">${racks[r].map(binCard).join("")}</div></div>`).join("");
  document.querySelectorAll("#racks [data-fill]").forEach((el) => { el.style.width = `${Number(el.dataset.fill)}%`; });
}

async function loadStock() {
  const page = await api("/api/v1/stock?limit=1000");
  $("#site").textContent = page.site;
  state.skus = {}; state.bins = {};
  page.items.forEach((s) => { state.skus[s.sku] = s; s.bins.forEach((b) => { state.bins[b.bin] = b; }); });
  renderRacks();
}

function onBin(ev) {
  const b = state.bins[ev.bin];
  if (!b || b.sku !== ev.sku) return;
  Object.assign(b, { quantity: ev.quantity, net_kg: ev.net_kg, updated_at: ev.updated_at });
  const sku = state.skus[b.sku];
  sku.quantity = sku.bins.reduce((sum, x) => sum + (state.bins[x.bin].quantity ?? 0), 0);
  sku.status = sku.quantity <= sku.minimum ? "critical" : sku.quantity <= sku.reorder_point ? "low" : "ok";
  if (b.capacity_kg) b.fill = Math.min(Math.max(ev.net_kg / b.capacity_kg, 0), 1);
  const el = document.querySelector(`.bin[data-bin="${CSS.escape(b.bin)}"]`);
  if (el) { el.outerHTML = binCard(b); const fresh = document.querySelector(`.bin[data-bin="${CSS.escape(b.bin)}"]`); fresh.classList.add("flash"); setTimeout(() => fresh.classList.remove("flash"), 800); }
}

// --- SKU page ---------------------------------------------------------------

async function showSku(id) {
  const sku = state.skus[id];
  if (!sku) return;
  $("#sku-title").textContent = `${sku.sku} · ${sku.name}`;
  $("#sku-summary").textContent = `${t("stock")}: ${fmt(sku.quantity)} ${UNIT[state.lang][sku.unit]} · min ${fmt(sku.minimum)} · ${t("reorder_point")} ${fmt(sku.reorder_point)} · ${t("status_" + sku.status)}`;
  const [hist, moves] = await Promise.all([
    api(`/api/v1/stock/${encodeURIComponent(id)}/history?interval=1h`),
    api(`/api/v1/movements?sku=${encodeURIComponent(id)}&limit=50&start=${Date.now() - 7 * 864e5}`),
  ]);
  drawChart(hist, sku);
  const mine = Object.values(state.alerts).filter((a) => a.state !== "cleared" && (a.subject === id || sku.bins.some((b) => b.bin === a.subject)));
  $("#sku-alerts").innerHTML = mine.map((a) => `<li class="alert ${a.state}"><b>${esc(a.text[state.lang])}</b></li>`).join("");
  $("#sku-moves tbody").innerHTML = moves.items.map((m) =>
    `<tr><td>${when(m.time)}</td><td>${esc(m.bin)}</td><td>${esc(t(m.kind))}</td><td>${fmt(m.delta_qty)}</td><td>${esc(m.labels.join(", "))}</td></tr>`).join("");
}

function drawChart(hist, sku) {
  // Time on x (the requested range), the level as a step line up to now.
  const svg = $("#sku-chart");
  const pts = hist.points.filter((p) => p.quantity != null).map((p) => [p.time, p.quantity]);
  if (sku.quantity != null) pts.push([Math.min(Date.now(), hist.end), sku.quantity]);
  if (!pts.length) { svg.innerHTML = ""; return; }
  const hi = Math.max(...pts.map((p) => p[1]), sku.reorder_point) * 1.1 || 1;
  const x = (t) => ((t - hist.start) / (hist.end - hist.start)) * 600;
  const y = (v) => 200 - (v / hi) * 200;
  const steps = pts.map((p, i) => (i ? `${x(p[0]).toFixed(1)},${y(pts[i - 1][1]).toFixed(1)} ` : "") + `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  svg.innerHTML = `<line class="min" x1="0" x2="600" y1="${y(sku.minimum)}" y2="${y(sku.minimum)}"/>
    <line class="reorder" x1="0" x2="600" y1="${y(sku.reorder_point)}" y2="${y(sku.reorder_point)}"/><polyline points="${steps}"/>`;
}

// --- alerts, reorder, devices -------------------------------------------------

function renderAlerts() {
  const active = Object.values(state.alerts).filter((a) => a.state !== "cleared").sort((a, b) => b.updated_at - a.updated_at);
  $("#alert-count").textContent = active.length || "";
  $("#no-alerts").hidden = active.length > 0;
  $("#alerts").innerHTML = active.map((a) => `<li class="alert ${a.state}" data-alert="${esc(a.kind)}/${esc(a.subject)}">
    <div><b>${esc(a.text[state.lang])}</b></div><div><small>${when(a.raised_at)}${a.acknowledged_by ? ` · ${t("acked_by")} ${esc(a.acknowledged_by)}` : ""}</small></div>
    ${a.state === "raised" ? `<form><input name="by" placeholder="${esc(t("your_name"))}" required value="${esc(localStorage.getItem("gudang.name") || "")}">
      <input name="note" placeholder="${esc(t("note"))}"><button type="submit">${esc(t("ack"))}</button></form>` : ""}</li>`).join("");
}

async function loadAlerts() {
  const list = await api("/api/v1/alerts");
  state.alerts = {};
  list.items.forEach((a) => { state.alerts[`${a.kind}/${a.subject}`] = a; });
  renderAlerts();
}

async function loadReorder() {
  const list = await api("/api/v1/reorder");
  $("#reorder tbody").innerHTML = list.items.map((r) =>
    `<tr><td>${esc(r.sku)}</td><td>${esc(r.name)}</td><td>${fmt(r.quantity)} ${esc(UNIT[state.lang][r.unit])}</td><td>${fmt(r.reorder_point)}</td><td><b>${fmt(r.suggested_quantity)}</b></td></tr>`).join("");
}

async function loadDevices() {
  const list = await api("/api/v1/devices");
  $("#devices tbody").innerHTML = list.items.map((d) =>
    `<tr><td>${esc(d.id)}</td><td>${esc(d.kind)} (${esc(d.protocol)})</td><td class="state-${esc(d.state)}" title="${esc(d.detail || "")}">${esc(d.state)}${d.reason ? ` (${esc(d.reason)})` : ""}${d.clock_ahead_s != null ? ` <span class="clock-ahead">(${esc(t("clock_ahead"))} ${fmt(d.clock_ahead_s)} s)</span>` : ""}</td><td>${when(d.last_reading_at)}${d.reading_age_s != null ? ` (${fmt(d.reading_age_s)} s)` : ""}</td></tr>`).join("");
}

// --- live stream ----------------------------------------------------------------

let stream = null; // the event stream's AbortController: signing out ends it

async function listen() {
  for (;;) {
    try {
      stream = new AbortController();
      const res = await fetch("/api/v1/events", { headers: { Authorization: `Bearer ${key()}` }, signal: stream.signal });
      if (res.status === 401) { showLogin(t("bad_key")); return; }
      if (!res.ok || !res.body) throw new Error(res.statusText);
      setLive(true);
      await loadStock().catch(() => {}); // catch up on what changed while away
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, cut); buf = buf.slice(cut + 2);
          const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
          if (data) onEvent(JSON.parse(data));
        }
      }
    } catch (e) { /* reconnect below */ }
    setLive(false);
    if (!key()) return; // signed out
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function setLive(on) { const el = $("#live"); el.classList.toggle("on", on); el.classList.toggle("off", !on); el.textContent = t(on ? "online" : "offline"); }

function onEvent(ev) {
  if (ev.type === "bin") onBin(ev);
  else if (ev.type === "alert") { state.alerts[`${ev.kind}/${ev.subject}`] = ev; renderAlerts(); }
  else if (ev.type === "status" && !$("#view-devices").hidden) loadDevices().catch(() => {});
}

// --- navigation -----------------------------------------------------------------

function route() {
  const [view, arg] = (location.hash.slice(1) || "racks").split("/");
  const name = ["racks", "alerts", "reorder", "devices", "sku"].includes(view) ? view : "racks";
  document.querySelectorAll(".view").forEach((v) => { v.hidden = v.id !== `view-${name}`; });
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name));
  if (name === "sku") showSku(decodeURIComponent(arg || "")).catch(() => {});
  if (name === "reorder") loadReorder().catch(() => {});
  if (name === "devices") loadDevices().catch(() => {});
}

async function start() {
  const m = location.hash.match(/key=([^&]+)/);
  if (m) { localStorage.setItem("gudang.key", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname + "#racks"); }
  translate();
  if (!key()) { showLogin(); return; }
  $("#login").hidden = true;
  $("#signout").hidden = false;
  try { await Promise.all([loadStock(), loadAlerts()]); } catch (e) { return; }
  route();
  listen();
}

$("#lang").addEventListener("click", () => {
  state.lang = state.lang === "id" ? "en" : "id";
  localStorage.setItem("gudang.lang", state.lang);
  translate(); renderRacks(); renderAlerts(); route();
});
$("#signout").addEventListener("click", () => {
  // Forget the key in this browser (a shared PC at the warehouse counter).
  localStorage.removeItem("gudang.key");
  if (stream) stream.abort();
  setLive(false);
  $("#key").value = "";
  showLogin();
});
$("#login").addEventListener("submit", (e) => { e.preventDefault(); localStorage.setItem("gudang.key", $("#key").value.trim()); start(); });
$("#racks").addEventListener("click", (e) => { const el = e.target.closest(".bin"); if (el) location.hash = `sku/${encodeURIComponent(el.dataset.sku)}`; });
$("#alerts").addEventListener("submit", async (e) => {
  e.preventDefault();
  const li = e.target.closest("[data-alert]");
  const by = e.target.by.value.trim(); localStorage.setItem("gudang.name", by);
  const button = e.target.querySelector("button"); button.disabled = true;
  try { await api(`/api/v1/alerts/${li.dataset.alert}/ack`, { method: "POST", body: JSON.stringify({ by, note: e.target.note.value || null }) }); }
  catch (err) { button.disabled = false; alert(err.message); }
});
window.addEventListener("hashchange", route);
start();
