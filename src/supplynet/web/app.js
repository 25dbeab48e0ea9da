// supplynet control tower dashboard: hand-written, no libraries, no network access beyond this server.
"use strict";
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const S = { token: sessionStorage.getItem("supplynet.token") || "", me: null, net: null, stream: null, timer: null };
const fmt = (v, d = 0) => v == null || Number.isNaN(v) ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d });
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const canPlan = () => S.me && (S.me.role === "planner" || S.me.role === "admin");

async function api(path, opts = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + S.token }, opts.headers || {});
  if (opts.body && typeof opts.body !== "string") { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.body); }
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  const ct = r.headers.get("content-type") || "";
  const body = ct.includes("json") ? await r.json() : await r.text();
  if (!r.ok) { const e = new Error((body && body.detail) || r.statusText); e.status = r.status; throw e; }
  return body;
}
function toast(msg) { const t = $("toast"); t.textContent = msg; t.classList.remove("hidden"); clearTimeout(t._h); t._h = setTimeout(() => t.classList.add("hidden"), 4000); }
function el(tag, attrs = {}, parent) { const e = document.createElementNS(SVGNS, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; }
function table(cols, rows) {
  if (!rows.length) return '<p class="muted small">nothing yet</p>';
  return "<table><thead><tr>" + cols.map((c) => `<th>${esc(c[0])}</th>`).join("") + "</tr></thead><tbody>" +
    rows.map((r) => "<tr>" + cols.map((c) => `<td class="${c[2] || ""}">${c[1](r)}</td>`).join("") + "</tr>").join("") + "</tbody></table>";
}

// -- sign in -----------------------------------------------------------------------------------------
async function signIn(token) {
  S.token = token.trim();
  try { S.me = await api("/v1/me"); } catch (e) { $("login-error").textContent = "Sign-in refused: " + e.message; S.token = ""; return; }
  sessionStorage.setItem("supplynet.token", S.token);
  $("login").classList.add("hidden"); $("main").classList.remove("hidden"); $("logout").classList.remove("hidden");
  $("who").textContent = `${S.me.name} (${S.me.role})`; document.body.dataset.role = S.me.role;
  $("scenario-run").disabled = !canPlan();
  try { S.net = await api("/v1/network"); $("network-name").textContent = S.net.name; } catch (e) { S.net = null; }
  try { const lib = await api("/v1/scenarios/library"); $("scenario-name").innerHTML = Object.keys(lib.scenarios).map((n) => `<option>${esc(n)}</option>`).join(""); } catch (e) { /* no sim */ }
  await refreshAll(); startStream();
}
$("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("token").value); });
$("logout").addEventListener("click", () => { sessionStorage.removeItem("supplynet.token"); location.reload(); });

// -- live updates: SSE read with fetch so the token goes in a header, not the URL -------------------------
async function startStream() {
  if (S.stream) S.stream.abort();
  const ctl = new AbortController(); S.stream = ctl;
  try {
    const r = await fetch("/v1/stream", { headers: { Authorization: "Bearer " + S.token }, signal: ctl.signal });
    if (!r.ok) throw new Error(r.statusText);
    $("live").textContent = "live"; $("live").className = "live on";
    const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = "";
    for (;;) {
      const { value, done } = await reader.read(); if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
        const data = chunk.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("\n");
        if (data) onUpdate(JSON.parse(data));
      }
    }
  } catch (e) { if (ctl.signal.aborted) return; }
  $("live").textContent = "reconnecting"; $("live").className = "live off";
  setTimeout(startStream, 3000);
}
function onUpdate(u) {
  clearTimeout(S.timer);
  S.timer = setTimeout(() => {
    const c = new Set(u.changed || []);
    if (c.has("log_offset")) { refreshKpis(); refreshMap(); refreshInventory(); refreshAssets(); }
    if (c.has("decisions")) { refreshDecisions(); refreshKpis(); }
    if (c.has("audit_seq")) refreshAudit();
    if (c.has("quarantined")) refreshQuarantine();
    if (c.has("scenarios")) refreshScenarios();
  }, 250);
}
async function refreshAll() {
  await Promise.allSettled([refreshKpis(), refreshMap(), refreshDecisions(), refreshInventory(), refreshAssets(),
    refreshScenarios(), refreshQuarantine(), refreshAudit()]);
}

// -- KPI cards ---------------------------------------------------------------------------------------
async function refreshKpis() {
  const k = await api("/v1/kpis");
  const cards = [["fill rate", k.fill_rate == null ? "–" : (100 * k.fill_rate).toFixed(1) + "%"], ["on hand", fmt(k.on_hand)],
    ["on order", fmt(k.on_order)], ["in transit", fmt(k.in_transit)], ["backorders", fmt(k.backorders)], ["lost sales", fmt(k.lost_sales)],
    ["open shipments", fmt(k.shipments_open)], ["late shipments", fmt(k.shipments_late)], ["open orders", fmt(k.orders_open)],
    ["proposals waiting", fmt(k.decisions_proposed)], ["work orders open", fmt(k.assets_with_work_order)], ["quarantined", fmt(k.quarantined)]];
  $("kpis").innerHTML = cards.map(([n, v]) => `<div class="kpi"><div class="v">${v}</div><div class="k">${esc(n)}</div></div>`).join("") +
    `<div class="kpi"><div class="v small">${esc((k.as_of || "") || "")}${k.log_offset}</div><div class="k">log offset</div></div>`;
}

// -- map: equirectangular projection of the sites' coordinates, drawn in SVG --------------------------------
const KIND_COLOR = { supplier: "#7c3aed", plant: "#b45309", dc: "#2563eb", store: "#15803d" };
function projector(points, w, h, pad) {
  const lats = points.map((p) => p[0]), lons = points.map((p) => p[1]);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2, k = Math.cos(lat0 * Math.PI / 180);
  const x0 = Math.min(...lons) * k, x1 = Math.max(...lons) * k, y0 = Math.min(...lats), y1 = Math.max(...lats);
  const s = Math.min((w - 2 * pad) / Math.max(x1 - x0, 1e-6), (h - 2 * pad) / Math.max(y1 - y0, 1e-6));
  const ox = (w - s * (x1 - x0)) / 2, oy = (h - s * (y1 - y0)) / 2;
  return (lat, lon) => [ox + (lon * k - x0) * s, h - (oy + (lat - y0) * s)];
}
async function refreshMap() {
  const svg = $("map"); if (!S.net) { svg.innerHTML = ""; return; }
  const ships = await api("/v1/state/shipments?limit=2000");
  const W = 800, H = 560; svg.innerHTML = "";
  const site = Object.fromEntries(S.net.sites.map((s) => [s.id, s]));
  const P = projector(S.net.sites.map((s) => [s.lat, s.lon]), W, H, 40);
  const gl = el("g", {}, svg), gs = el("g", {}, svg), gt = el("g", {}, svg);
  for (const ln of S.net.lanes) {
    const a = site[ln.origin], b = site[ln.destination]; if (!a || !b) continue;
    const pts = (ln.route && ln.route.length > 1 ? ln.route : [[a.lat, a.lon], [b.lat, b.lon]]).map((p) => P(p[0], p[1]).join(","));
    const l = el("polyline", { points: pts.join(" "), fill: "none", stroke: "#94a3b8", "stroke-width": 1, opacity: 0.55 }, gl);
    el("title", {}, l).textContent = `${ln.id}: ${ln.origin} → ${ln.destination} (${ln.mode}, ${fmt(ln.lead_time_days, 1)} d)`;
  }
  for (const s of S.net.sites) {
    const [x, y] = P(s.lat, s.lon);
    const r = { supplier: 6, plant: 7, dc: 8, store: 4.5 }[s.kind] || 5;
    const c = el("circle", { cx: x, cy: y, r, fill: KIND_COLOR[s.kind] || "#555", stroke: "#fff", "stroke-width": 1.2, "data-site": s.id }, gs);
    el("title", {}, c).textContent = `${s.id} ${s.name || ""} (${s.kind}${s.city ? ", " + s.city : ""})`;
    if (s.kind !== "store") { const t = el("text", { x: x + 9, y: y + 4, "font-size": 10, fill: "#334155" }, gt); t.textContent = s.id; }
  }
  const now = ships.last_event_at ? Date.parse(ships.last_event_at) : Date.now();
  let live = 0;
  for (const sh of ships.rows) {
    if (sh.delivered_at || !sh.departed_at || sh.status === "cancelled") continue;
    let lat = sh.lat, lon = sh.lon;
    if (lat == null) {   // no GPS fix: place it along the lane by elapsed share of the promised time
      const a = site[sh.origin], b = site[sh.destination]; if (!a || !b) continue;
      const t0 = Date.parse(sh.departed_at), t1 = Date.parse(sh.eta || sh.promised_at || sh.departed_at) || t0 + 864e5;
      const f = Math.max(0, Math.min(1, (now - t0) / Math.max(t1 - t0, 1)));
      lat = a.lat + f * (b.lat - a.lat); lon = a.lon + f * (b.lon - a.lon);
    }
    const [x, y] = P(lat, lon); live++;
    const d = el("rect", { x: x - 3, y: y - 3, width: 6, height: 6, fill: sh.status === "delayed" ? "#b91c1c" : "#f59e0b", class: "shipment" }, gt);
    el("title", {}, d).textContent = `${sh.shipment_id} ${sh.origin} → ${sh.destination} (${sh.status}, ${fmt(sh.units)} units)`;
  }
  $("map-legend").textContent = `${S.net.sites.length} sites, ${S.net.lanes.length} lanes, ${live} shipments moving · ` +
    "● supplier ● plant ● DC ● store ■ shipment";
}

// -- decisions -----------------------------------------------------------------------------------------
const actionText = (a) => a.type === "order" ? `${a.order_type} ${fmt(a.quantity)} × ${esc(a.sku)} → ${esc(a.site)} via ${esc(a.lane_id || "?")}`
  : a.type === "work_order" ? `work order on ${esc(a.asset_id)}` : `reroute ${esc(a.shipment_id)} to ${esc(a.to_lane)}`;
async function refreshDecisions() {
  const prop = await api("/v1/decisions?status=proposed&limit=50");
  const plan = canPlan();
  $("decisions-proposed").innerHTML = table([
    ["id", (d) => `<b>${esc(d.id)}</b><div class="small muted">${esc(d.kind)}</div>`],
    ["action", (d) => `${actionText(d.action)}<div class="why">${esc(d.why)}</div><div class="why">⚑ ${esc(d.autonomy.reason || "")}</div>`],
    ["cost", (d) => fmt(d.cost, 0), "num"],
    ["", (d) => plan ? `<button class="approve" data-id="${esc(d.id)}">Approve</button> <button class="reject" data-id="${esc(d.id)}">Reject</button>` : ""],
  ], prop.items);
  const rec = await api("/v1/decisions?limit=12");
  $("decisions-recent").innerHTML = table([
    ["id", (d) => esc(d.id)], ["status", (d) => `<span class="status ${esc(d.status)}">${esc(d.status)}</span>`],
    ["action", (d) => actionText(d.action)], ["cost", (d) => fmt(d.cost), "num"],
    ["approved by", (d) => esc((d.approvals || []).map((a) => a.by).join(", "))],
  ], rec.items);
}
$("decisions-proposed").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button"); if (!b) return;
  const id = b.dataset.id;
  try {
    if (b.classList.contains("approve")) {
      b.disabled = true;
      const r = await api(`/v1/decisions/${id}/approve`, { method: "POST", body: {}, headers: { "Idempotency-Key": `ui-approve-${id}` } });
      toast(`${id} ${r.decision.status}: ${r.events.map((e) => e.order_id || e.work_order_id || e.code).join(", ")}`);
    } else {
      const reason = prompt(`Reason for rejecting ${id}?`); if (!reason) return;
      await api(`/v1/decisions/${id}/reject`, { method: "POST", body: { reason }, headers: { "Idempotency-Key": `ui-reject-${id}` } });
      toast(`${id} rejected`);
    }
  } catch (e) { toast(`${id}: ${e.message}`); b.disabled = false; }
  refreshDecisions(); refreshAudit(); refreshKpis();
});

// -- inventory with forecast bands ---------------------------------------------------------------------------
async function refreshInventory() {
  const inv = await api("/v1/state/inventory?limit=5000");
  const rows = inv.rows.filter((r) => r.on_hand !== 0 || r.on_order !== 0).sort((a, b) => a.position - b.position);
  const sel = $("inv-select"), keep = sel.value;
  sel.innerHTML = rows.slice(0, 200).map((r) => `<option value="${esc(r.site)}|${esc(r.sku)}">${esc(r.site)} / ${esc(r.sku)} (position ${fmt(r.position)})</option>`).join("");
  if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  $("inv-table").innerHTML = table([["site", (r) => esc(r.site)], ["sku", (r) => esc(r.sku)], ["on hand", (r) => fmt(r.on_hand), "num"],
    ["on order", (r) => fmt(r.on_order), "num"], ["in transit", (r) => fmt(r.in_transit), "num"], ["position", (r) => fmt(r.position), "num"]], rows.slice(0, 8));
  drawBand();
}
$("inv-select").addEventListener("change", drawBand);
function axes(svg, W, H, x0, x1, y0, y1, pad) {
  const X = (x) => pad + (x - x0) / Math.max(x1 - x0, 1e-9) * (W - 2 * pad), Y = (y) => H - pad - (y - y0) / Math.max(y1 - y0, 1e-9) * (H - 2 * pad);
  el("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#94a3b8" }, svg);
  el("line", { x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: "#94a3b8" }, svg);
  for (const v of [y0, (y0 + y1) / 2, y1]) { const t = el("text", { x: 2, y: Y(v) + 3, "font-size": 9, fill: "#64748b" }, svg); t.textContent = fmt(v, Math.abs(y1 - y0) < 5 ? 2 : 0); }
  const t = el("text", { x: W - pad, y: H - 4, "font-size": 9, fill: "#64748b", "text-anchor": "end" }, svg); t.textContent = `day ${x1}`;
  return [X, Y];
}
function band(svg, X, Y, xs, lo, mid, hi, color) {
  const ok = (i) => lo[i] != null && hi[i] != null;
  const up = xs.map((x, i) => ok(i) ? `${X(x)},${Y(hi[i])}` : null).filter(Boolean), dn = xs.map((x, i) => ok(i) ? `${X(x)},${Y(lo[i])}` : null).filter(Boolean).reverse();
  el("polygon", { points: up.concat(dn).join(" "), fill: color, opacity: 0.2 }, svg);
  el("polyline", { points: xs.map((x, i) => mid[i] == null ? null : `${X(x)},${Y(mid[i])}`).filter(Boolean).join(" "), fill: "none", stroke: color, "stroke-width": 1.6 }, svg);
}
async function drawBand() {
  const svg = $("inv-chart"); svg.innerHTML = ""; const v = $("inv-select").value; if (!v) return;
  const [site, sku] = v.split("|");
  const [f] = await api(`/v1/inventory/forecast?site=${encodeURIComponent(site)}&sku=${encodeURIComponent(sku)}&days=14`);
  if (!f) return;
  const ys = f.p10.concat(f.p90, [0]);
  const [X, Y] = axes(svg, 460, 200, 0, f.days[f.days.length - 1], Math.min(...ys), Math.max(...ys), 28);
  el("line", { x1: X(0), x2: X(f.days[f.days.length - 1]), y1: Y(0), y2: Y(0), stroke: "#b91c1c", "stroke-dasharray": "3 3" }, svg);
  band(svg, X, Y, f.days, f.p10, f.p50, f.p90, "#2563eb");
  $("inv-note").textContent = `projected on hand, P10–P90 (demand ${fmt(f.demand_mean_per_day, 1)} ± ${fmt(f.demand_std_per_day, 1)}/day)`;
}

// -- assets ----------------------------------------------------------------------------------------------
function rulBar(r) {
  if (!r || r.median == null) return '<span class="muted small">no estimate</span>';
  const hi = Math.max(r.high || r.median, 1), w = 120, x = (v) => Math.max(0, Math.min(w, v / hi * w));
  return `<svg width="${w + 4}" height="14"><rect x="${x(r.low || 0)}" y="3" width="${Math.max(2, x(r.high || r.median) - x(r.low || 0))}" height="8" fill="#93c5fd"/>` +
    `<line x1="${x(r.median)}" x2="${x(r.median)}" y1="0" y2="14" stroke="#1d4ed8" stroke-width="2"/></svg> ` +
    `<span class="small">${fmt(r.low)}–${fmt(r.high)} (${fmt(r.median)}) ${esc(r.unit || "cycles")}</span>`;
}
async function refreshAssets() {
  const a = await api("/v1/assets/health");
  $("assets").innerHTML = table([["asset", (x) => `${esc(x.asset_id)}<div class="small muted">${esc(x.kind || "")} ${esc(x.site || "")}</div>`],
    ["RUL interval", (x) => rulBar(x.rul)], ["failures", (x) => fmt(x.failures), "num"],
    ["work order", (x) => esc(x.open_work_order || "")], ["last alert", (x) => esc(x.last_alert || "")]], a.slice(0, 30));
}

// -- scenarios -----------------------------------------------------------------------------------------------
$("scenario-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("/v1/scenarios", { method: "POST", body: { scenario: $("scenario-name").value, replications: +$("scenario-reps").value, horizon: +$("scenario-horizon").value } });
    toast(`scenario ${r.id} ${r.status}`); refreshScenarios();
  } catch (e) { toast(e.message); }
});
async function refreshScenarios() {
  const runs = await api("/v1/scenarios");
  $("scenario-runs").innerHTML = table([["run", (r) => esc(r.id)], ["scenario", (r) => esc(r.params.scenario)],
    ["status", (r) => `<span class="status">${esc(r.status)}</span> ${r.status === "running" ? fmt(100 * r.progress) + "%" : ""}`],
    ["by", (r) => esc(r.requested_by)]], runs.slice(0, 5));
  const done = runs.find((r) => r.status === "done");
  if (done && done.id !== S.shownRun) { S.shownRun = done.id; drawScenario(await api(`/v1/scenarios/${done.id}/results`)); }
}
function drawScenario(res) {
  const svg = $("scenario-chart"); svg.innerHTML = "";
  const keys = Object.keys(res.daily).filter((k) => k.endsWith(":fill_rate"));
  if (!keys.length) return;
  const n = res.daily[keys[0]].p50.length, xs = [...Array(n).keys()];
  const [X, Y] = axes(svg, 460, 200, 0, n - 1, 0, 1, 28);
  const colors = ["#64748b", "#dc2626", "#2563eb", "#16a34a"];
  keys.forEach((k, i) => { const b = res.daily[k]; band(svg, X, Y, xs, b.p5, b.p50, b.p95, colors[i % 4]);
    const t = el("text", { x: 40 + i * 130, y: 12, "font-size": 10, fill: colors[i % 4] }, svg); t.textContent = k.replace(":fill_rate", "") + " fill rate"; });
  const want = ["fill_rate", "total_cost", "revenue_at_risk", "lost_sales"];
  $("scenario-kpis").innerHTML = table([["scenario", (r) => esc(r.scenario)], ["metric", (r) => esc(r.metric)],
    ["P5", (r) => fmt(r.p5, r.metric === "fill_rate" ? 3 : 0), "num"], ["P50", (r) => fmt(r.p50, r.metric === "fill_rate" ? 3 : 0), "num"],
    ["P95", (r) => fmt(r.p95, r.metric === "fill_rate" ? 3 : 0), "num"]], res.network.filter((r) => want.includes(r.metric)));
}

// -- quarantine and audit ------------------------------------------------------------------------------------
async function refreshQuarantine() {
  const q = await api("/v1/quarantine?limit=15");
  $("quarantine").innerHTML = `<p class="small">${Object.entries(q.counts).map(([k, v]) => `${esc(k)}: <b>${v}</b>`).join(" · ") || "nothing rejected"}</p>` +
    table([["when", (r) => esc(r.at.slice(0, 19))], ["device", (r) => esc(r.device)], ["reason", (r) => esc(r.reason)], ["detail", (r) => esc(r.detail.slice(0, 80))]], q.items);
}
async function refreshAudit() {
  const a = await api("/v1/audit?limit=20");
  $("audit").innerHTML = table([["#", (e) => e.seq, "num"], ["when", (e) => esc(new Date(e.at_us / 1000).toISOString().slice(0, 19))],
    ["who", (e) => esc(e.actor)], ["what", (e) => esc(e.action)], ["subject", (e) => esc(e.subject)],
    ["hash", (e) => `<code class="small">${esc(e.hash.slice(0, 10))}</code>`]], a.items);
}

const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromUrl) { history.replaceState(null, "", location.pathname); signIn(fromUrl); }
else if (S.token) signIn(S.token); else $("token").focus();
