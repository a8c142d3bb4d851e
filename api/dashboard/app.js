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
    ago: "lalu", history: "Riwayat", clock_ahead: "jam maju", sign_out: "Keluar",
    no_reorder: "Tidak ada yang perlu dipesan.", no_moves: "Belum ada pergerakan pada periode ini.",
    no_devices: "Belum ada perangkat.", no_bins: "Belum ada rak timbang di file situs.", no_history: "Belum ada riwayat: data mulai tercatat sekarang.",
    min: "min", acks: "Riwayat penanganan", cover: "Cukup untuk", days: "hari kerja", per_day: "per hari",
    stockout: "Perkiraan habis", suggest_rop: "Saran titik pesan", suggest_order: "Saran pesanan", no_forecast: "Riwayat belum cukup untuk perkiraan.",
    urgent: "Pesan sekarang: habis sebelum kiriman datang", range_1d: "1 hari", range_7d: "7 hari", range_30d: "30 hari",
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
    ago: "ago", history: "History", clock_ahead: "clock ahead", sign_out: "Sign out",
    no_reorder: "Nothing to reorder.", no_moves: "No movements in this period.",
    no_devices: "No devices yet.", no_bins: "No weighed bins in the site file yet.", no_history: "No history yet: recording starts now.",
    min: "min", acks: "Acknowledgements", cover: "Lasts", days: "working days", per_day: "a day",
    stockout: "Runs out", suggest_rop: "Suggested reorder point", suggest_order: "Suggested order", no_forecast: "Not enough history for a forecast yet.",
    urgent: "Order now: runs out before a delivery arrives", range_1d: "1 day", range_7d: "7 days", range_30d: "30 days",
  },
};
// The chart's ranges: how far back, and the interval of one point.
const RANGES = { "1d": [864e5, "15m"], "7d": [7 * 864e5, "1h"], "30d": [30 * 864e5, "6h"] };

const state = { lang: localStorage.getItem("gudang.lang") || "id", skus: {}, bins: {}, alerts: {}, range: "7d" };
const $ = (sel) => document.querySelector(sel);
const t = (k) => T[state.lang][k] || k;
// Quantities arrive rounded for people (whole pieces, the scale's resolution): shown as they are.
const fmt = (n) => n == null ? "–" : Number(n).toLocaleString(state.lang === "id" ? "id-ID" : "en-GB", { maximumFractionDigits: 3 });
const unitOf = (x) => (x.unit_name ? x.unit_name[state.lang] : x.unit) || "";
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
  const cover = sku ? coverOf(sku) : null;
  const days = cover == null ? "" : `<div class="cover${cover.urgent ? " urgent" : ""}">${esc(t("cover"))} ${fmt(Math.round(cover.days * 10) / 10)} ${esc(t("days"))}</div>`;
  return `<div class="bin ${status}" data-bin="${esc(b.bin)}" data-sku="${esc(b.sku)}" title="${esc(t("status_" + status))}">
    <div class="id">${esc(b.bin)}</div><div class="name">${esc(sku ? sku.name : b.sku)}</div>
    <div><span class="qty">${fmt(b.quantity)}</span> <span class="unit">${esc(unitOf(b))}</span></div>${days}${fill}</div>`;
}

// Days of cover at the SKU's current stock (recomputed as stock changes live).
function coverOf(sku) {
  const r = sku.replenishment;
  if (!r || !r.rate_per_day || sku.quantity_exact == null) return null;
  const days = Math.max(sku.quantity_exact, 0) / r.rate_per_day;
  return { days, urgent: days < r.lead_time_days };
}

function renderRacks() {
  const racks = {};
  Object.values(state.bins).forEach((b) => { (racks[b.rack] ||= []).push(b); });
  $("#racks").innerHTML = Object.keys(racks).sort().map((r) =>
    `<div class="rack"><h2>${esc(t("rack"))} ${esc(r)}</h2><div class="bins">${racks[r].map(binCard).join("")}</div></div>`).join("")
    || `<p class="empty">${esc(t("no_bins"))}</p>`;
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
  Object.assign(b, { quantity: ev.quantity, quantity_exact: ev.quantity_exact, net_kg: ev.net_kg, updated_at: ev.updated_at });
  const sku = state.skus[b.sku];
  const sum = (f) => sku.bins.reduce((total, x) => total + (state.bins[x.bin][f] ?? 0), 0);
  sku.quantity = sum("quantity");
  sku.quantity_exact = sum("quantity_exact"); // the status is judged on it, as the server does
  sku.status = sku.quantity_exact <= sku.minimum ? "critical" : sku.quantity_exact <= sku.reorder_point ? "low" : "ok";
  if (b.capacity_kg) b.fill = Math.min(Math.max(ev.net_kg / b.capacity_kg, 0), 1);
  const el = document.querySelector(`.bin[data-bin="${CSS.escape(b.bin)}"]`);
  if (!el) return;
  el.outerHTML = binCard(b);
  const fresh = document.querySelector(`.bin[data-bin="${CSS.escape(b.bin)}"]`);
  fresh.querySelector("[data-fill]")?.style.setProperty("width", `${Number(fresh.querySelector("[data-fill]").dataset.fill)}%`);
  // "Just changed" only for a recorded pick, put or anomaly: a level that
  // settled a little differently (scale noise) is no news to anyone at the rack.
  if (ev.movement) { fresh.classList.add("flash"); fresh.dataset.moved = ev.movement; setTimeout(() => fresh.classList.remove("flash"), 1500); }
}

// --- SKU page ---------------------------------------------------------------

async function showSku(id) {
  if (!state.skus[id]) return;
  // Fresh from the server: the forecast (stock-out date, suggested order)
  // follows the stock, which live events changed since the list was loaded.
  const fresh = await api(`/api/v1/stock/${encodeURIComponent(id)}`);
  const sku = Object.assign(state.skus[id], { replenishment: fresh.replenishment, quantity: fresh.quantity, quantity_exact: fresh.quantity_exact, status: fresh.status });
  $("#sku-title").textContent = `${sku.sku} · ${sku.name}`;
  $("#sku-summary").textContent = `${t("stock")}: ${fmt(sku.quantity)} ${unitOf(sku)} · ${t("min")} ${fmt(sku.minimum)} · ${t("reorder_point")} ${fmt(sku.reorder_point)} · ${t("status_" + sku.status)}`;
  const r = sku.replenishment, cover = coverOf(sku);
  $("#sku-plan").textContent = !r ? "" : r.insufficient_history ? t("no_forecast")
    : `${fmt(r.rate_per_day)} ${unitOf(sku)} ${t("per_day")} · ${t("cover")} ${cover ? fmt(Math.round(cover.days * 10) / 10) : "–"} ${t("days")}`
      + `${r.stockout_date ? ` · ${t("stockout")} ${new Date(r.stockout_date + "T12:00:00").toLocaleDateString(state.lang === "id" ? "id-ID" : "en-GB")}` : ""}`
      + ` · ${t("suggest_rop")} ${fmt(r.suggested_reorder_point)} · ${t("suggest_order")} ${fmt(r.suggested_order)} ${unitOf(sku)}`;
  $("#sku-plan").classList.toggle("urgent", !!(cover && cover.urgent));
  document.querySelectorAll("#sku-range button").forEach((el) => el.classList.toggle("active", el.dataset.range === state.range));
  const [back, interval] = RANGES[state.range];
  const start = Date.now() - back;
  const path = `/api/v1/stock/${encodeURIComponent(id)}/history`;
  let [hist, moves] = await Promise.all([
    api(`${path}?interval=${interval}&start=${start}`),
    api(`/api/v1/movements?sku=${encodeURIComponent(id)}&limit=50&start=${start}`),
  ]);
  // A young history (a new system) fills a few intervals at the right edge:
  // show the time there is, in finer intervals, instead of a dot.
  const first = hist.points.find((p) => p.quantity != null);
  if (first && hist.end - first.time < 10 * ms(interval)) {
    const span = Math.max(hist.end - first.time, 60e3);
    const fine = ["1m", "5m", "15m", "1h"].find((d) => span / ms(d) <= 240) || interval;
    if (fine !== interval) hist = await api(`${path}?interval=${fine}&start=${Math.max(start, first.time)}`);
    const begins = hist.points.find((p) => p.quantity != null)?.time ?? first.time;
    hist.start = Math.max(start, begins - ms(hist.interval));
  }
  drawChart(hist, sku);
  const mine = Object.values(state.alerts).filter((a) => a.state !== "cleared" && (a.subject === id || sku.bins.some((b) => b.bin === a.subject)));
  $("#sku-alerts").innerHTML = mine.map((a) => `<li class="alert ${a.state}"><b>${esc(a.text[state.lang])}</b>${ackList(a)}</li>`).join("");
  $("#sku-moves tbody").innerHTML = moves.items.length ? moves.items.map((m) =>
    `<tr><td>${when(m.time)}</td><td>${esc(m.bin)}</td><td>${esc(t(m.kind))}</td><td>${fmt(m.delta_qty)} ${esc(unitOf(m.unit_name ? m : sku))}</td><td>${esc(m.labels.join(", "))}</td></tr>`).join("")
    : empty(5, "no_moves");
}

const ms = (d) => Number(d.slice(0, -1)) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[d.slice(-1)];

const empty = (cols, key) => `<tr class="empty"><td colspan="${cols}">${esc(t(key))}</td></tr>`;

// A "nice" axis step for a range: 1, 2 or 5 times a power of ten.
function niceStep(span, ticks) {
  const raw = span / ticks, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
}

function drawChart(hist, sku) {
  // Time on x (the chosen range), the level on y in the SKU's unit, as a step
  // line up to now; the minimum and the reorder point as labelled lines.
  const svg = $("#sku-chart");
  const W = 640, H = 250, L = 56, R = 12, T = 24, B = 28;
  const known = hist.points.filter((p) => p.quantity != null);
  const pts = known.map((p) => [p.time, p.quantity]);
  if (sku.quantity != null) pts.push([Math.min(Date.now(), hist.end), sku.quantity]);
  if (pts.length < 2) {
    svg.innerHTML = `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(t("no_history"))}</text>`;
    return;
  }
  const top = Math.max(...pts.map((p) => p[1]), ...known.map((p) => p.max ?? 0), sku.reorder_point, sku.minimum) * 1.1 || 1;
  const step = niceStep(top, 4), hi = Math.ceil(top / step) * step;
  const x = (ms) => L + ((ms - hist.start) / (hist.end - hist.start)) * (W - L - R);
  const y = (v) => T + (1 - v / hi) * (H - T - B);
  const parts = [];
  for (let v = 0; v <= hi + step / 2; v += step) {
    parts.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/>`,
      `<text class="tick" x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  const day = hist.end - hist.start <= 864e5;
  const loc = state.lang === "id" ? "id-ID" : "en-GB";
  for (let i = 0; i <= 4; i++) {
    const ms = hist.start + (i / 4) * (hist.end - hist.start);
    const label = new Date(ms).toLocaleString(loc, day ? { hour: "2-digit", minute: "2-digit" } : { day: "numeric", month: "short" });
    parts.push(`<text class="tick" x="${x(ms)}" y="${H - 8}" text-anchor="${i === 0 ? "start" : i === 4 ? "end" : "middle"}">${esc(label)}</text>`);
  }
  parts.push(`<text class="axis" x="${L - 6}" y="${T - 12}" text-anchor="end">${esc(unitOf(hist))}</text>`);
  // The lowest and highest level within each interval: picks and deliveries
  // between two points show as a band, not hidden by the line.
  const width = Math.max(((W - L - R) * ms(hist.interval)) / (hist.end - hist.start), 1);
  for (const p of known) {
    if (p.min != null && p.max != null && p.max > p.min) {
      const x0 = Math.max(x(p.time), L), w = Math.min(x(p.time) + width, W - R) - x0;
      if (w > 0) parts.push(`<rect class="band" x="${x0.toFixed(1)}" width="${w.toFixed(1)}" y="${y(p.max).toFixed(1)}" height="${(y(p.min) - y(p.max)).toFixed(1)}"/>`);
    }
  }
  for (const [cls, v, name] of [["min", sku.minimum, t("min")], ["reorder", sku.reorder_point, t("reorder_point")]]) {
    parts.push(`<line class="${cls}" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/>`,
      `<text class="label ${cls}" x="${W - R - 4}" y="${y(v) - 4}" text-anchor="end">${esc(name)} ${esc(fmt(v))}</text>`);
  }
  const steps = pts.map((p, i) => (i ? `${x(p[0]).toFixed(1)},${y(pts[i - 1][1]).toFixed(1)} ` : "") + `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  parts.push(`<polyline class="level" points="${steps}"/>`);
  svg.innerHTML = parts.join("");
}

// --- alerts, reorder, devices -------------------------------------------------

function renderAlerts() {
  const active = Object.values(state.alerts).filter((a) => a.state !== "cleared").sort((a, b) => b.updated_at - a.updated_at);
  $("#alert-count").textContent = active.length || "";
  $("#no-alerts").hidden = active.length > 0;
  $("#alerts").innerHTML = active.map((a) => `<li class="alert ${a.state}" data-alert="${esc(a.kind)}/${esc(a.subject)}">
    <div><b>${esc(a.text[state.lang])}</b></div><div><small>${when(a.raised_at)}${a.acknowledged_by ? ` · ${t("acked_by")} ${esc(a.acknowledged_by)}` : ""}</small></div>${ackList(a)}
    ${a.state === "raised" ? `<form><input name="by" placeholder="${esc(t("your_name"))}" required value="${esc(localStorage.getItem("gudang.name") || "")}">
      <input name="note" placeholder="${esc(t("note"))}"><button type="submit">${esc(t("ack"))}</button></form>` : ""}</li>`).join("");
}

// Every acknowledgement of an alert, oldest first: who, when, and their note.
function ackList(a) {
  const acks = a.acknowledgements || [];
  if (!acks.length) return "";
  return `<ol class="acks" aria-label="${esc(t("acks"))}">${acks.map((k) =>
    `<li><small>${when(k.ts)} · ${esc(k.by)}</small>${k.note ? ` — ${esc(k.note)}` : ""}</li>`).join("")}</ol>`;
}

async function loadAlerts() {
  const list = await api("/api/v1/alerts");
  state.alerts = {};
  list.items.forEach((a) => { state.alerts[`${a.kind}/${a.subject}`] = a; });
  renderAlerts();
}

async function loadReorder() {
  const list = await api("/api/v1/reorder");
  $("#reorder tbody").innerHTML = list.items.length ? list.items.map((r) => {
    const p = r.replenishment, urgent = p && p.urgency_days != null && p.urgency_days < 0;
    const cover = p && p.days_of_cover != null ? `${fmt(p.days_of_cover)} ${esc(t("days"))}` : "–";
    return `<tr class="${urgent ? "urgent" : ""}" title="${urgent ? esc(t("urgent")) : ""}"><td>${esc(r.sku)}</td><td>${esc(r.name)}</td><td>${fmt(r.quantity)} ${esc(unitOf(r))}</td><td class="cover">${cover}</td><td>${fmt(r.reorder_point)}</td><td><b>${fmt(r.suggested_quantity)}</b> ${esc(unitOf(r))}</td></tr>`;
  }).join("") : empty(6, "no_reorder");
}

async function loadDevices() {
  const list = await api("/api/v1/devices");
  $("#devices tbody").innerHTML = !list.items.length ? empty(4, "no_devices") : list.items.map((d) =>
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
  // The API answers 503 until it has read InfluxDB once (just after it
  // started, or while InfluxDB is down): try again, never leave the page empty.
  for (;;) {
    try { await Promise.all([loadStock(), loadAlerts()]); break; } catch (e) {
      if (!key() || e.message === "unauthorized") return;
      setLive(false);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
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
$("#sku-range").addEventListener("click", (e) => {
  const button = e.target.closest("button[data-range]");
  if (!button) return;
  state.range = button.dataset.range;
  route();
});
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
