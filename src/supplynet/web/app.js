// supplynet control tower dashboard: hand-written; Leaflet and topojson-client are vendored (web/vendor), the
// basemap ships in the package (web/basemap): no request ever leaves this server.
"use strict";
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";
const S = { token: sessionStorage.getItem("supplynet.token") || "", me: null, net: null, stream: null, timer: null };
const fmt = (v, d = 0) => v == null || Number.isNaN(v) ? "–" : Number(v).toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d });
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// every cost carries its currency: the network's cost model names it (else the network's own, else USD)
const currency = () => (S.net && ((S.net.costs && S.net.costs.currency) || S.net.currency)) || "USD";
function money(v, cur, d = 0) {
  if (v == null || Number.isNaN(Number(v))) return "–";
  cur = cur || currency();
  try { return Number(v).toLocaleString(undefined, { style: "currency", currency: cur, maximumFractionDigits: d, minimumFractionDigits: d }); }
  catch (e) { return `${fmt(v, d)} ${esc(cur)}`; }   // not an ISO code the browser knows: the code as text
}
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
  setInterval(refreshOutbox, 10000);  // the dispatcher works apart from the log: look now and then
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
    if (c.has("audit_seq")) { refreshAudit(); refreshOutbox(); }
    if (c.has("quarantined")) refreshQuarantine();
    if (c.has("scenarios")) refreshScenarios();
  }, 250);
}
async function refreshAll() {
  await Promise.allSettled([refreshKpis(), refreshMap(), refreshDecisions(), refreshInventory(), refreshAssets(),
    refreshScenarios(), refreshQuarantine(), refreshAudit(), refreshOutbox()]);
}

// -- KPI cards ---------------------------------------------------------------------------------------
async function refreshKpis() {
  const k = await api("/v1/kpis"); S.kpis = k;
  // [label, value, tone, tooltip]; tone flags what needs a planner's eye
  const warn = (bad) => bad ? "warn" : "";
  const cards = [
    ["fill rate", k.fill_rate == null ? "–" : (100 * k.fill_rate).toFixed(1) + "%", warn(k.fill_rate != null && k.fill_rate < 0.95), "units sold / units demanded, since the log began"],
    ["proposals waiting", fmt(k.decisions_proposed), warn(k.decisions_proposed > 0), "decisions that need a planner's approval (queue below)"],
    ["units on hand", fmt(k.on_hand), "", `over ${fmt(k.positions)} site × SKU positions`],
    ["units in transit", fmt(k.in_transit), "", "on shipments that have departed and not been received"],
    ["units on order", fmt(k.on_order), "", "ordered, not yet shipped"],
    ["backorders (units)", fmt(k.backorders), warn(k.backorders > 0), "demand waiting for stock"],
    ["lost sales (units)", fmt(k.lost_sales), warn(k.lost_sales > 0), "demand at stores that do not backorder, not served"],
    ["shipments moving", fmt(k.shipments_open), "", `${fmt(k.shipments_delivered)} delivered`],
    ["late shipments", fmt(k.shipments_late), warn(k.shipments_late > 0), "past their promised time and not delivered"],
    ["open orders", fmt(k.orders_open), "", "orders with quantity still to ship"],
    ["open work orders", fmt(k.assets_with_work_order), warn(k.assets_with_work_order > 0), `${fmt(k.assets)} assets watched`],
    ["quarantined messages", fmt(k.quarantined), warn(k.quarantined > 0), "device messages the gate rejected (see Quarantine)"]];
  $("kpis").innerHTML = cards.map(([n, v, tone, tip]) => `<div class="kpi ${tone}" title="${esc(tip)}"><div class="v">${v}</div><div class="k">${esc(n)}</div></div>`).join("");
  $("as-of").textContent = k.last_event_at ? `twin at ${k.last_event_at.slice(0, 16).replace("T", " ")} UTC · ${fmt(k.events_applied)} events` : `${fmt(k.events_applied)} events`;
}

// -- map: Leaflet over the packaged basemap (Natural Earth 1:50m countries), no tiles, no outside request ------------
const KIND_COLOR = { supplier: "#7c3aed", plant: "#b45309", dc: "#2563eb", store: "#15803d" };
const hm = (t) => t ? esc(String(t).slice(5, 16).replace("T", " ")) : "?";
function initMap() {
  if (S.map) return S.map;
  const m = L.map("map", { zoomSnap: 0.5, worldCopyJump: true, minZoom: 2, maxZoom: 14 });
  m.attributionControl.setPrefix(false);
  m.attributionControl.addAttribution("basemap: Natural Earth (public domain) · Leaflet");
  m.createPane("basemap").style.zIndex = 200;  // below lanes (overlay pane, 400) and sites (marker pane, 600)
  S.layers = { lanes: L.layerGroup().addTo(m), sites: L.layerGroup().addTo(m), ships: L.layerGroup().addTo(m) };
  m.setView([30, 0], 2);
  m.on("zoomend", () => { $("map").dataset.zoom = m.getZoom(); $("map").classList.toggle("far", m.getZoom() < 5); });
  fetch("/ui/basemap/countries-50m.json").then((r) => r.json()).then((topo) => {
    const countries = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(countries, { pane: "basemap", interactive: false, className: "basemap",
      style: { color: "#9aa8ba", weight: 0.7, fillColor: "#fbfaf7", fillOpacity: 1 } }).addTo(m);
    $("map").dataset.basemap = String(countries.features.length);
  }).catch((e) => toast("basemap: " + e.message));
  S.map = m;
  return m;
}
function siteIcon(s) {
  const r = { supplier: 6, plant: 7, dc: 8, store: 5 }[s.kind] || 5;
  return L.divIcon({ className: `site kind-${esc(s.kind)}`, iconSize: [2 * r, 2 * r], iconAnchor: [r, r],
    html: `<span class="dot" data-site="${esc(s.id)}"></span><span class="label">${esc(s.id)}</span>` });
}
function isLate(sh, now) {
  const promised = sh.promised_at ? Date.parse(sh.promised_at) : null;
  return !!(sh.late || sh.status === "delayed" || (promised != null && (promised < now
    || (sh.eta_p50 && Date.parse(sh.eta_p50) > promised))));
}
async function refreshMap() {
  if (!S.net) return;
  const m = initMap();
  const ships = await api("/v1/state/shipments?limit=2000");
  const site = Object.fromEntries(S.net.sites.map((s) => [s.id, s]));
  for (const g of Object.values(S.layers)) g.clearLayers();
  for (const ln of S.net.lanes) {
    const a = site[ln.origin], b = site[ln.destination]; if (!a || !b) continue;
    const pts = ln.route && ln.route.length > 1 ? ln.route : [[a.lat, a.lon], [b.lat, b.lon]];
    const cost = ln.cost_per_unit != null ? `, ${money(ln.cost_per_unit, null, 2)} per unit` : "";
    L.polyline(pts, { color: "#64748b", weight: 1.4, opacity: 0.55, className: "lane" })
      .bindTooltip(`${esc(ln.id)}: ${esc(ln.origin)} → ${esc(ln.destination)} (${esc(ln.mode)}, ${fmt(ln.lead_time_days, 1)} d${cost})`, { sticky: true })
      .addTo(S.layers.lanes);
  }
  for (const s of S.net.sites) {
    L.marker([s.lat, s.lon], { icon: siteIcon(s), keyboard: false, title: "", zIndexOffset: 500 })  // above trucks waiting at it
      .bindTooltip(`<b>${esc(s.id)}</b> ${esc(s.name || "")}<br>${esc(s.kind)}${s.city ? " · " + esc(s.city) : ""}`, { direction: "top", offset: [0, -6] })
      .addTo(S.layers.sites);
  }
  const now = ships.last_event_at ? Date.parse(ships.last_event_at) : Date.now();
  let live = 0, late = 0;
  for (const sh of ships.rows) {
    if (sh.delivered_at || !sh.departed_at || sh.status === "cancelled") continue;
    let lat = sh.lat, lon = sh.lon;
    if (lat == null) {   // no GPS fix: place it along the lane by elapsed share of the expected time
      const a = site[sh.origin], b = site[sh.destination]; if (!a || !b) continue;
      const t0 = Date.parse(sh.departed_at), t1 = Date.parse(sh.eta_p50 || sh.eta || sh.promised_at || sh.departed_at) || t0 + 864e5;
      const f = Math.max(0, Math.min(1, (now - t0) / Math.max(t1 - t0, 1)));
      lat = a.lat + f * (b.lat - a.lat); lon = a.lon + f * (b.lon - a.lon);
    }
    const isl = isLate(sh, now); live++; late += isl;
    const eta = sh.eta_p50 ? `ETA ${hm(sh.eta_p50)} UTC (P10 ${hm(sh.eta_p10)}, P90 ${hm(sh.eta_p90)})`
      : sh.eta ? `ETA ${hm(sh.eta)} UTC (carrier)` : "no ETA yet";
    const promised = sh.promised_at ? `promised ${hm(sh.promised_at)} UTC` : "no promised time";
    L.marker([lat, lon], { keyboard: false, zIndexOffset: isl ? 1000 : 0, icon: L.divIcon({  // late ones on top
      className: isl ? "ship late" : "ship", iconSize: [10, 10], iconAnchor: [5, 5],
      html: `<span class="sq" data-shipment="${esc(sh.shipment_id)}"></span>` }) })
      .bindTooltip(`<b>${esc(sh.shipment_id)}</b> ${esc(sh.origin)} → ${esc(sh.destination)}` +
        ` <span class="${isl ? "bad" : ""}">${isl ? "late" : esc(sh.status)}</span>, ${fmt(sh.units)} units<br>${eta}<br>${promised}`,
        { direction: "top", offset: [0, -6], className: "ship-tip" })
      .addTo(S.layers.ships);
  }
  if (!S.fitted && S.net.sites.length) {   // frame the network once; after that the planner's zoom and pan stay
    S.fitted = true;
    m.fitBounds(L.latLngBounds(S.net.sites.map((s) => [s.lat, s.lon])).pad(0.08), { maxZoom: 7 });  // room for the coastline
  }
  const dot = (c, t, sq) => `<span class="sw${sq ? " sq" : ""}" style="background:${c}"></span>${t}`;
  $("map-legend").innerHTML = `${S.net.sites.length} sites, ${S.net.lanes.length} lanes, <b>${live}</b> shipments moving` +
    (late ? `, <b class="bad">${late} late</b>` : "") + " · " +
    [dot(KIND_COLOR.supplier, "supplier"), dot(KIND_COLOR.plant, "plant"), dot(KIND_COLOR.dc, "DC"), dot(KIND_COLOR.store, "store"),
     dot("#f59e0b", "shipment", true), dot("#b91c1c", "late", true)].join(" ") +
    ' <span class="muted">(drag to pan, scroll to zoom, hover for names and ETAs)</span>';
}

// -- decisions: the queue grouped by site, kind and day (money at stake first), bulk approve / reject -------------
const actionText = (a) => a.type === "order" ? `${a.order_type} ${fmt(a.quantity)} × ${esc(a.sku)} → ${esc(a.site)} via ${esc(a.lane_id || "?")}`
  : a.type === "work_order" ? `work order on ${esc(a.asset_id)}`
  : a.type === "quality" ? `${a.option === "write_off" ? "write off" : "inspect"} ${esc((a.skus || []).join(", "))} on ${esc(a.shipment_id)}${a.destination ? " at " + esc(a.destination) : ""}`
  : `reroute ${esc(a.shipment_id)} to ${esc(a.to_lane)}`;
// "max_spend_per_decision: cost 14,183.92 > 10,000.00; quiet_hours: ..." -> one chip per guardrail, details on hover
function guardrails(a) {
  a = a || {};
  const parts = (a.guardrails_broken && a.guardrails_broken.length ? a.guardrails_broken
    : String(a.reason || "").split(/;\s*(?=[a-z_]+:)/)).filter(Boolean);
  const chips = parts.map((p) => { const i = p.indexOf(":"); const name = i > 0 && i < 40 ? p.slice(0, i).replace(/_/g, " ") : p;
    return `<span class="chip" title="${esc(p)}">${esc(name.length > 60 ? name.slice(0, 57) + "…" : name)}</span>`; });
  if (a.distinct_approver) chips.push('<span class="chip two" title="high impact: the approver must not be the proposer">two-person</span>');
  return chips.join(" ") || '<span class="muted">policy level ' + esc(a.level || "?") + "</span>";
}
// the groups endpoint is optional: a service without it (404) gets the flat queue and no bulk buttons
async function loadGroups() {
  if (S.groupsApi === false) return null;
  try {
    const g = await api("/v1/decisions/groups?status=proposed");
    if (!g || !Array.isArray(g.groups)) throw Object.assign(new Error("no groups"), { status: 404 });
    S.groupsApi = true; return g.groups;
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 422) { S.groupsApi = false; return null; }
    throw e;
  }
}
const decisionCols = (plan) => [
  ["decision", (d) => `<b>${esc(d.id)}</b> <span class="small muted">${esc(d.kind)}</span>` +
    `<div>${actionText(d.action)}</div><div class="why">held by ${guardrails(d.autonomy)}</div>` +
    `<details class="why"><summary>why this</summary>${esc(d.why)}<div>${esc(d.autonomy.reason || "")}</div></details>`],
  ["cost", (d) => money(d.cost), "num"],
  ["", (d) => plan ? `<div class="actions"><button class="approve" data-id="${esc(d.id)}">Approve</button><button class="reject" data-id="${esc(d.id)}">Reject</button></div>` : ""],
];
async function refreshDecisions() {
  const [prop, groups] = await Promise.all([api("/v1/decisions?status=proposed&limit=100"), loadGroups()]);
  const plan = canPlan();
  // the waiting count comes from this refresh's own answers, never from the KPI request running beside it
  // (whichever of the two landed first used to decide whether the count said 100 or the true number)
  let waiting = groups ? groups.reduce((n, g) => n + g.count, 0) : prop.items.length;
  if (!groups && prop.next_before != null) waiting = (await api("/v1/kpis")).decisions_proposed;
  const listed = groups ? groups.length : 0;
  $("queue-count").textContent = groups ? `${fmt(waiting)} waiting in ${fmt(listed)} group${listed === 1 ? "" : "s"}`
    : waiting > prop.items.length ? `${fmt(waiting)} waiting · newest ${prop.items.length} shown` : `${fmt(waiting)} waiting`;
  $("queue-count").dataset.waiting = waiting;
  S.groups = groups || [];
  if (groups) {
    const byId = Object.fromEntries(prop.items.map((d) => [d.id, d]));
    $("decisions-proposed").innerHTML = "";
    $("decisions-groups").innerHTML = !groups.length ? '<p class="muted small">nothing waiting</p>' : groups.map((g) => {
      const shown = g.ids.map((id) => byId[id]).filter(Boolean), rest = g.ids.length - shown.length;
      const bulk = plan ? `<button class="approve bulk" data-key="${esc(g.key)}" data-action="approve">Approve ${fmt(g.count)}</button>` +
        `<button class="reject bulk" data-key="${esc(g.key)}" data-action="reject">Reject ${fmt(g.count)}</button>` : "";
      return `<div class="group" data-key="${esc(g.key)}"><div class="group-head">` +
        `<div><b>${esc(g.site)}</b> · ${esc(g.kind)} · ${esc(g.day)}<div class="small muted">${fmt(g.count)} decision${g.count === 1 ? "" : "s"}</div></div>` +
        `<div class="money" title="money at stake, ${esc(g.currency)}">${money(g.money_at_stake, g.currency)}</div><div class="actions row">${bulk}</div></div>` +
        `<details class="members"${g.count <= 5 ? " open" : ""}><summary class="small">the ${fmt(g.count)} decision${g.count === 1 ? "" : "s"}</summary>` +
        table(decisionCols(plan), shown) + (rest > 0 ? `<p class="muted small">and ${fmt(rest)} older: ${esc(g.ids.filter((id) => !byId[id]).slice(0, 20).join(", "))}${rest > 20 ? " …" : ""}</p>` : "") +
        "</details></div>";
    }).join("");
  } else {
    $("decisions-groups").innerHTML = "";
    $("decisions-proposed").innerHTML = table(decisionCols(plan), prop.items);
  }
  // what was decided lately: everything but the proposals listed above
  const lists = await Promise.all(["executed", "approved", "rejected", "noted"].map((st) => api(`/v1/decisions?status=${st}&limit=12`)));
  const rec = lists.flatMap((l) => l.items).sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, 12);
  $("decisions-recent").innerHTML = table([
    ["id", (d) => esc(d.id)], ["status", (d) => `<span class="status ${esc(d.status)}">${esc(d.status)}</span>`],
    ["action", (d) => actionText(d.action)], ["cost", (d) => money(d.cost), "num"],
    ["by", (d) => esc((d.approvals || []).map((a) => a.by).join(", ") || (d.autonomy && d.autonomy.level === "auto" ? "auto" : ""))],
  ], rec);
}
async function onDecisionClick(ev) {
  const b = ev.target.closest("button"); if (!b || !b.dataset.id) return;
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
}
async function onBulkClick(ev) {
  const b = ev.target.closest("button.bulk"); if (!b) return;
  const g = S.groups.find((x) => x.key === b.dataset.key); if (!g) return;
  const action = b.dataset.action, what = `${g.count} ${g.kind} decision${g.count === 1 ? "" : "s"} for ${g.site} on ${g.day}`;
  let note = "";
  if (action === "reject") { note = prompt(`Reason for rejecting ${what}?`); if (!note) return; }
  else if (!confirm(`Approve ${what} (${money(g.money_at_stake, g.currency)} at stake)?`)) return;
  for (const x of b.parentElement.querySelectorAll("button")) x.disabled = true;
  try {
    const r = await api("/v1/decisions/bulk", { method: "POST", body: { ids: g.ids, action, note } });
    const bad = r.results.filter((x) => x.error), ok = r.results.length - bad.length;
    toast(`${what}: ${ok} ${action === "approve" ? "approved" : "rejected"}` +
      (bad.length ? `, ${bad.length} refused (${bad[0].id}: ${bad[0].error})` : ""));
  } catch (e) { toast(`${what}: ${e.message}`); for (const x of b.parentElement.querySelectorAll("button")) x.disabled = false; }
  refreshDecisions(); refreshAudit(); refreshKpis();
}
$("decisions-proposed").addEventListener("click", onDecisionClick);
$("decisions-groups").addEventListener("click", (ev) => (ev.target.closest("button.bulk") ? onBulkClick(ev) : onDecisionClick(ev)));

// -- inventory with forecast bands: the positions at risk first (fewest days of cover) ---------------------------
async function refreshInventory() {
  const bands = await api("/v1/inventory/forecast?order=cover&limit=60&days=14");
  S.bands = Object.fromEntries(bands.map((f) => [`${f.site}|${f.sku}`, f]));
  const sel = $("inv-select"), keep = sel.value;
  sel.innerHTML = bands.map((f) => `<option value="${esc(f.site)}|${esc(f.sku)}">${esc(f.site)} / ${esc(f.sku)} · cover ${coverText(f.days_of_cover)}</option>`).join("");
  if (keep && [...sel.options].some((o) => o.value === keep)) sel.value = keep;
  const risk = (f) => f.days_of_cover < 1 ? "bad" : f.days_of_cover < 3 ? "warn" : "";
  $("inv-table").innerHTML = table([["site", (f) => esc(f.site)], ["sku", (f) => esc(f.sku)], ["on hand", (f) => fmt(f.on_hand), "num"],
    ["in transit", (f) => fmt(f.in_transit), "num"], ["position", (f) => fmt(f.position), "num"],
    ["demand / day", (f) => fmt(f.demand_mean_per_day, 1), "num"],
    ["cover", (f) => `<span class="cover ${risk(f)}">${coverText(f.days_of_cover)}</span>`, "num"]], bands.slice(0, 10));
  drawBand();
}
const coverText = (d) => d == null ? "no demand" : d <= 0 ? "out" : d < 1 ? `${fmt(d * 24)} h` : `${fmt(d, 1)} d`;
$("inv-select").addEventListener("change", drawBand);
$("inv-table").addEventListener("click", (ev) => {
  const tr = ev.target.closest("tr"); if (!tr || !tr.cells.length || tr.parentElement.tagName !== "TBODY") return;
  $("inv-select").value = `${tr.cells[0].textContent}|${tr.cells[1].textContent}`; drawBand();
});
function axes(svg, W, H, x0, x1, y0, y1, pad) {
  const X = (x) => pad + (x - x0) / Math.max(x1 - x0, 1e-9) * (W - 2 * pad), Y = (y) => H - pad - (y - y0) / Math.max(y1 - y0, 1e-9) * (H - 2 * pad);
  el("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: "#94a3b8" }, svg);
  el("line", { x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: "#94a3b8" }, svg);
  for (const v of [y0, (y0 + y1) / 2, y1]) { const t = el("text", { x: 2, y: Y(v) + 3, "font-size": 9, fill: "#64748b" }, svg); t.textContent = fmt(v, Math.abs(y1 - y0) < 5 ? 2 : 0); }
  for (const d of [x0, Math.round((x0 + x1) / 2), x1]) {
    const t = el("text", { x: X(d), y: H - pad + 12, "font-size": 9, fill: "#64748b", "text-anchor": "middle" }, svg); t.textContent = `day ${d}`; }
  return [X, Y];
}
function band(svg, X, Y, xs, lo, mid, hi, color) {
  const ok = (i) => lo[i] != null && hi[i] != null;
  const up = xs.map((x, i) => ok(i) ? `${X(x)},${Y(hi[i])}` : null).filter(Boolean), dn = xs.map((x, i) => ok(i) ? `${X(x)},${Y(lo[i])}` : null).filter(Boolean).reverse();
  el("polygon", { points: up.concat(dn).join(" "), fill: color, opacity: 0.2 }, svg);
  el("polyline", { points: xs.map((x, i) => mid[i] == null ? null : `${X(x)},${Y(mid[i])}`).filter(Boolean).join(" "), fill: "none", stroke: color, "stroke-width": 1.6 }, svg);
}
async function drawBand() {
  const svg = $("inv-chart"); svg.innerHTML = ""; const v = $("inv-select").value; if (!v) { $("inv-note").textContent = ""; return; }
  const f = (S.bands || {})[v]; if (!f) return;
  const ys = f.p10.concat(f.p90, [0]), last = f.days[f.days.length - 1];
  const [X, Y] = axes(svg, 460, 200, 0, last, Math.min(...ys), Math.max(...ys), 34);
  const lo = Math.min(...ys);
  if (lo < 0) el("rect", { x: X(0), y: Y(0), width: X(last) - X(0), height: Y(lo) - Y(0), fill: "#fee2e2", opacity: 0.6 }, svg);
  el("line", { x1: X(0), x2: X(last), y1: Y(0), y2: Y(0), stroke: "#b91c1c", "stroke-dasharray": "3 3" }, svg);
  if (lo < 0) { const t = el("text", { x: X(last) - 4, y: Y(lo) - 4, "font-size": 9, fill: "#b91c1c", "text-anchor": "end" }, svg); t.textContent = "shortfall"; }
  band(svg, X, Y, f.days, f.p10, f.p50, f.p90, "#2563eb");
  const out = f.on_hand <= 0 ? 0 : f.days.find((d, i) => f.p50[i] < 0);
  if (out != null) { el("line", { x1: X(out), x2: X(out), y1: Y(Math.max(...ys)), y2: Y(lo), stroke: "#b91c1c", "stroke-width": 1 }, svg);
    const t = el("text", { x: X(out) + 3, y: 44, "font-size": 9, fill: "#b91c1c" }, svg); t.textContent = out === 0 ? "out of stock now" : `stock-out ~day ${out}`; }
  $("inv-note").textContent = `projected on hand without new orders (in transit arriving over 3 days, on order over the lane's lead time), P10–P90; ` +
    `demand ${fmt(f.demand_mean_per_day, 1)} ± ${fmt(f.demand_std_per_day, 1)} units/day`;
}

// -- assets: most urgent first (shortest remaining life), then the others ------------------------------------
function rulBar(r, scale) {
  if (!r || r.median == null) return '<span class="muted small">no RUL estimate</span>';
  const hi = Math.max(scale || r.high || r.median, 1), w = 110, x = (v) => Math.max(0, Math.min(w, v / hi * w));
  const cov = r.level != null ? `${Math.round(100 * r.level)}% interval` : "interval";
  return `<div title="${esc(cov)} ${fmt(r.low)}–${fmt(r.high)} ${esc(r.unit || "cycles")}, median ${fmt(r.median)} (estimated ${esc((r.at || "").slice(0, 16).replace("T", " "))})">` +
    `<svg width="${w + 4}" height="12"><rect x="0" y="5" width="${w}" height="2" fill="#e5e7eb"/>` +
    `<rect x="${x(r.low || 0)}" y="2" width="${Math.max(2, x(r.high || r.median) - x(r.low || 0))}" height="8" fill="#93c5fd"/>` +
    `<line x1="${x(r.median)}" x2="${x(r.median)}" y1="0" y2="12" stroke="#1d4ed8" stroke-width="2"/></svg>` +
    `<div class="small"><b>${fmt(r.median)}</b> ${esc(r.unit || "cycles")} <span class="muted">${fmt(r.low)}–${fmt(r.high)} (${esc(cov)})</span></div></div>`;
}
async function refreshAssets() {
  const a = await api("/v1/assets/health");
  a.sort((p, q) => (p.rul ? p.rul.median : Infinity) - (q.rul ? q.rul.median : Infinity) || (q.failures - p.failures));
  const seen = (x) => x.last_seen ? `seen ${esc(x.last_seen.slice(5, 16).replace("T", " "))}` : "no readings yet";
  const scale = Math.max(1, ...a.filter((x) => x.rul).map((x) => x.rul.high || x.rul.median || 0));  // one scale for all bars
  const health = (x) => x.rul ? rulBar(x.rul, scale) : x.temperature_k != null
    ? `<span class="small">${fmt(x.temperature_k - 273.15, 1)} °C</span> <span class="muted small">· ${seen(x)}</span>`
    : `<span class="muted small">${seen(x)}</span>`;
  $("assets").innerHTML = table([["asset", (x) => `<b>${esc(x.asset_id)}</b><div class="small muted">${esc(x.kind || "")} at ${esc(x.site || "?")}</div>`],
    ["remaining useful life / condition", health], ["failures", (x) => fmt(x.failures), "num"],
    ["work order", (x) => esc(x.open_work_order || "–")]], a.slice(0, 40));
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
  const runs = await api("/v1/scenarios?limit=20");
  $("scenario-runs").innerHTML = table([["run", (r) => `<code class="small">${esc(r.id)}</code>`], ["scenario", (r) => esc(r.params.scenario)],
    ["size", (r) => `<span class="small">${fmt(r.params.replications)} × ${fmt(r.params.horizon)} d</span>`],
    ["status", (r) => `<span class="status ${esc(r.status)}" title="${esc(r.error || "")}">${esc(r.status)}</span> ${r.status === "running" ? fmt(100 * r.progress) + "%" : ""}`],
    ["by", (r) => esc(r.requested_by)]], runs.slice(0, 5));
  const done = runs.find((r) => r.status === "done");
  if (done && done.id !== S.shownRun) { S.shownRun = done.id; drawScenario(done, await api(`/v1/scenarios/${done.id}/results`)); }
}
const MONEY_METRICS = new Set(["revenue_at_risk", "total_cost", "holding_cost", "shortage_cost", "transport_cost", "cost", "lost_sale_cost", "downtime_cost", "ordering_cost", "expedite_cost", "spoilage_cost"]);
function drawScenario(run, res) {
  const svg = $("scenario-chart"); svg.innerHTML = "";
  const keys = Object.keys(res.daily).filter((k) => k.endsWith(":fill_rate")).sort((a, b) => (a.startsWith("baseline") ? -1 : 1));
  $("scenario-title").textContent = `run ${run.id}: ${run.params.scenario}, ${run.params.replications} replications, ${run.params.horizon} days`;
  if (!keys.length) return;
  const n = res.daily[keys[0]].p50.length, xs = [...Array(n).keys()];
  const lows = keys.flatMap((k) => res.daily[k].p5.filter((v) => v != null));
  const y0 = Math.max(0, Math.floor(Math.min(1, ...lows) * 10) / 10 - 0.1);
  const [X, Y] = axes(svg, 460, 200, 0, n - 1, y0, 1, 34);
  const colors = ["#64748b", "#dc2626", "#2563eb", "#16a34a"];
  keys.forEach((k, i) => { const b = res.daily[k]; band(svg, X, Y, xs, b.p5, b.p50, b.p95, colors[i % 4]);
    el("rect", { x: 40 + i * 170, y: 4, width: 10, height: 4, fill: colors[i % 4] }, svg);
    const t = el("text", { x: 54 + i * 170, y: 10, "font-size": 10, fill: colors[i % 4] }, svg); t.textContent = k.replace(":fill_rate", "") + " daily fill rate"; });
  // one row per metric: the baseline and the scenario side by side, P50 with its P5-P95 range
  const want = ["fill_rate", "lost_sales", "revenue_at_risk", "total_cost", "lost_sale_cost", "downtime_cost"];
  const names = [...new Set(res.network.map((r) => r.scenario))].sort((a, b) => (a === "baseline" ? -1 : b === "baseline" ? 1 : 0));
  const cell = (m, sc) => { const r = res.network.find((x) => x.metric === m && x.scenario === sc); if (!r) return "–";
    const d = m === "fill_rate" ? 3 : 0, f = MONEY_METRICS.has(m) ? (v) => money(v) : (v) => fmt(v, d);
    return `<b>${f(r.p50)}</b><div class="muted small nowrap">${f(r.p5)} – ${f(r.p95)}</div>`; };
  $("scenario-kpis").innerHTML = table([["metric (P50, P5–P95)", (m) => esc(m.replace(/_/g, " ")) + (MONEY_METRICS.has(m) ? ` <span class="muted small">(${esc(currency())})</span>` : "")], ...names.map((sc) => [sc, (m) => cell(m, sc), "num"])],
    want.filter((m) => res.network.some((r) => r.metric === m)));
}

// -- quarantine and audit ------------------------------------------------------------------------------------
async function refreshQuarantine() {
  const q = await api("/v1/quarantine?limit=15");
  $("quarantine").innerHTML = !q.items.length && !Object.keys(q.counts).length ? '<p class="muted small">nothing rejected</p>' :
    `<p class="small">${Object.entries(q.counts).map(([k, v]) => `${esc(k)}: <b>${v}</b>`).join(" · ")}</p>` + table([["when (UTC)", (r) => `<span class="nowrap">${esc(r.at.slice(5, 19).replace("T", " "))}</span>`], ["device", (r) => esc(r.device)], ["reason", (r) => esc(r.reason)], ["detail", (r) => esc(r.detail.slice(0, 80))]], q.items);
}
// -- outbox: what waits for a sink, what a sink refused; admins re-send dead letters ---------------------------
const isAdmin = () => S.me && S.me.role === "admin";
async function refreshOutbox() {
  const [pend, dead] = await Promise.all([api("/v1/outbox?status=pending&limit=20"), api("/v1/outbox?status=dead&limit=20")]);
  const c = dead.counts, rows = dead.items.concat(pend.items);
  const when = (r) => `<span class="nowrap">${esc(new Date(r.updated_at_us / 1000).toISOString().slice(5, 19).replace("T", " "))}</span>`;
  const act = (r) => r.status === "dead" && isAdmin()
    ? `<button class="resend" data-action="${esc(r.action_id)}" data-sink="${esc(r.sink)}">Re-send</button>` : "";
  $("outbox").innerHTML = `<p class="small">${["pending", "dead", "delivered"].map((k) => `${k}: <b>${fmt(c[k] || 0)}</b>`).join(" · ")}</p>` +
    table([["action", (r) => `<code class="small">${esc(r.action_id)}</code><div class="muted small">${esc(r.action)}</div>`], ["sink", (r) => esc(r.sink)],
      ["status", (r) => `<span class="status ${r.status === "dead" ? "rejected" : "proposed"}">${esc(r.status)}</span>`], ["tries", (r) => fmt(r.attempts), "num"],
      ["updated (UTC)", when], ["last error", (r) => `<span class="small">${esc((r.last_error || "").slice(0, 90))}</span>`], ["", act]], rows);
}
$("outbox").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button.resend"); if (!b) return;
  b.disabled = true;
  try {
    const r = await api(`/v1/outbox/${encodeURIComponent(b.dataset.action)}/resend?sink=${encodeURIComponent(b.dataset.sink)}`, { method: "POST" });
    toast(`re-sending ${r.action_id} to ${b.dataset.sink}`);
  } catch (e) { toast(e.message); }
  refreshOutbox();
});
async function refreshAudit() {
  const a = await api("/v1/audit?limit=20");
  $("audit").innerHTML = table([["#", (e) => e.seq, "num"], ["when (UTC)", (e) => `<span class="nowrap">${esc(new Date(e.at_us / 1000).toISOString().slice(5, 19).replace("T", " "))}</span>`],
    ["who", (e) => esc(e.actor)], ["what", (e) => esc(e.action)], ["subject", (e) => esc(e.subject)],
    ["hash", (e) => `<code class="small" title="${esc(e.hash)}">${esc(e.hash.slice(0, 8))}</code>`]], a.items);
}

const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromUrl) { history.replaceState(null, "", location.pathname); signIn(fromUrl); }
else if (S.token) signIn(S.token); else $("token").focus();
