// Sandbank's operator console: plain JavaScript, no build step. The access token lives in
// this page's memory only; every panel reads the gateway's JSON routes with it.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = {
  token: null, subject: "", roles: [], tab: "ops",
  feedSeq: 0, feedFilters: {}, feedAbort: null, flowId: null, timers: [],
  alertFilters: { status: "open" }, alertId: null, reportFilters: { kind: "large_value" }, auditFilters: { minutes: "60" },
};
const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, text = null) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function api(method, path, body) {
  const init = { method, headers: { authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (state.feedAbort && path.startsWith("/v1/admin/console/events")) init.signal = state.feedAbort.signal;
  const answer = await fetch(path, init);
  if (answer.status === 401) {
    loggedOut("the session ended: log in again");
    throw new Error("logged out");
  }
  const data = answer.headers.get("content-type")?.includes("json") ? await answer.json() : null;
  if (!answer.ok) {
    const error = new Error((data && data.detail) || `${answer.status}`);
    error.status = answer.status;
    throw error;
  }
  return data;
}

// The roles the access token names: what the page offers, never what the gateway allows.
function claims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

// --- login ---------------------------------------------------------------------------------

$("#login").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#login-error").textContent = "";
  const answer = await fetch("/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ phone: $("#phone").value.trim(), password: $("#password").value }),
  });
  const data = await answer.json();
  if (!answer.ok) {
    $("#login-error").textContent = data.detail || "login failed";
    return;
  }
  state.token = data.access_token;
  const who = claims(state.token);
  state.subject = who.sub || "";
  state.roles = Array.isArray(who.roles) ? who.roles : [];
  $("#password").value = "";
  try {
    await api("GET", "/v1/admin/console/system");
  } catch (error) {
    state.token = null;
    $("#login-error").textContent = error.message;
    return;
  }
  start();
});

$("#logout").addEventListener("click", () => loggedOut(""));

function loggedOut(why) {
  state.token = null;
  state.alertId = null;
  state.tab = "ops";
  state.timers.forEach(clearInterval);
  state.timers = [];
  if (state.feedAbort) state.feedAbort.abort();
  $("#console").hidden = true;
  $("#logout").hidden = true;
  $("#login-panel").hidden = false;
  $("#login-error").textContent = why;
}

function start() {
  $("#login-panel").hidden = true;
  $("#console").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = state.roles.filter((r) => r !== "customer").join(" + ") || "operator";
  document.body.classList.toggle("compliance", state.roles.includes("compliance"));
  state.feedSeq = 0;
  $("#feed tbody").replaceChildren();
  follow();
  const every = (ms, job) => { job(); state.timers.push(setInterval(job, ms)); };
  every(2000, refreshSystem);
  every(3000, refreshSagas);
  every(2000, refreshFaults);
  every(5000, refreshDeadLetters);
  every(1500, () => state.flowId && state.tab === "ops" && refreshFlow());
  every(3000, () => state.tab === "compliance" && refreshCompliance());
  runLedger();
  route();
}

// --- the live feed: a long poll that waits on the gateway, never here --------------------

async function follow() {
  if (state.feedAbort) state.feedAbort.abort();
  const abort = (state.feedAbort = new AbortController());
  while (state.token && !abort.signal.aborted) {
    const params = new URLSearchParams({ after: state.feedSeq, wait_s: 20, limit: 200 });
    for (const [name, value] of Object.entries(state.feedFilters)) if (value) params.set(name, value);
    try {
      const page = await api("GET", `/v1/admin/console/events?${params}`);
      if (abort.signal.aborted) return;
      state.feedSeq = Math.max(state.feedSeq, page.last_seq);
      page.events.forEach(showEvent);
      $("#feed-note").textContent = `up to #${page.last_seq}`;
    } catch (error) {
      if (abort.signal.aborted || !state.token) return;
      $("#feed-note").textContent = `feed: ${error.message}; retrying`;
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

function showEvent(event) {
  const row = el("tr", { "data-key": event.key || "", "data-seq": event.seq });
  const cells = [
    new Date(event.time).toLocaleTimeString(),
    event.topic,
    event.type,
    event.key || "",
    event.customer_id || "",
    event.correlation_id || "",
  ];
  cells.forEach((text, i) => row.append(el("td", i >= 3 ? { class: "id", title: text } : {}, text)));
  row.addEventListener("click", () => { if (event.key) location.hash = `#/flow/${event.key}`; });
  const body = $("#feed tbody");
  body.prepend(row);
  while (body.children.length > 500) body.lastChild.remove();
}

$("#feed-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.feedFilters = Object.fromEntries(new FormData(event.target).entries());
  state.feedSeq = 0;
  $("#feed tbody").replaceChildren();
  follow();
});

// --- a flow's sequence diagram -------------------------------------------------------------

function route() {
  showTab(location.hash.startsWith("#/compliance") ? "compliance" : "ops");
  const match = location.hash.match(/^#\/flow\/(.+)$/);
  if (!match || !state.token) return;
  state.flowId = decodeURIComponent(match[1]);
  $("#flow-id").value = state.flowId;
  refreshFlow();
}
window.addEventListener("hashchange", route);

$("#flow-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("#flow-id").value.trim();
  if (id) location.hash = `#/flow/${encodeURIComponent(id)}`;
});

async function refreshFlow() {
  const id = state.flowId;
  try {
    const flow = await api("GET", `/v1/admin/console/flows/${encodeURIComponent(id)}`);
    if (id !== state.flowId) return;
    drawFlow(flow);
  } catch (error) {
    if (id !== state.flowId) return;
    $("#flow-note").textContent = `${id}: ${error.message}`;
    $("#flow").replaceChildren();
    $("#flow").setAttribute("data-hops", "0");
  }
}

function drawFlow(flow) {
  const svg = $("#flow");
  const lanes = flow.lifelines;
  const column = 150, top = 40, row = 34, left = 80;
  const x = (name) => left + lanes.indexOf(name) * column;
  const width = left + lanes.length * column + 260;
  const height = top + flow.hops.length * row + 40;
  svg.replaceChildren();
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("data-hops", flow.hops.length);
  const defs = el("svg:defs");
  const marker = el("svg:marker", { id: "arrow", markerWidth: 8, markerHeight: 8, refX: 7, refY: 3, orient: "auto" });
  marker.append(el("svg:path", { d: "M0,0 L7,3 L0,6 z", fill: "#245" }));
  defs.append(marker);
  svg.append(defs);
  for (const lane of lanes) {
    const topic = lane.includes(".");
    svg.append(el("svg:rect", { x: x(lane) - 62, y: 4, width: 124, height: 22, rx: 4, class: topic ? "box topic" : "box" }));
    svg.append(el("svg:text", { x: x(lane), y: 19, "text-anchor": "middle", class: "lane" }, lane));
    svg.append(el("svg:line", { x1: x(lane), y1: 26, x2: x(lane), y2: height - 10, class: "lifeline" }));
  }
  flow.hops.forEach((hop, i) => {
    const y = top + i * row + 14;
    const from = x(hop.source), to = x(hop.target);
    const classes = `hop ${hop.kind}${hop.status === "error" ? " error" : ""}`;
    const group = el("svg:g", { class: "hop-row", "data-kind": hop.kind, "data-source": hop.source, "data-target": hop.target });
    if (from === to) {
      group.append(el("svg:path", { d: `M${from},${y - 6} h26 v12 h-22`, class: classes, "marker-end": "url(#arrow)" }));
    } else {
      group.append(el("svg:line", { x1: from, y1: y, x2: to + (to > from ? -3 : 3), y2: y, class: classes, "marker-end": "url(#arrow)" }));
    }
    const labelX = from === to ? from + 32 : (from + to) / 2;
    group.append(el("svg:text", { x: labelX, y: y - 4, "text-anchor": from === to ? "start" : "middle" },
      `${hop.label}  +${hop.start_ms.toFixed(1)} ms (${hop.duration_ms.toFixed(1)} ms)`));
    if (hop.notes.length) {
      group.append(el("svg:text", { x: Math.max(from, to) + 36, y: y + 12, class: "note" }, hop.notes.join(" · ")));
    }
    svg.append(group);
  });
  const outcome = flow.outcome ? `outcome: ${flow.outcome}` : "no outcome yet";
  $("#flow-note").textContent = `${flow.id}: ${flow.hops.length} hops in ${flow.trace_ids.length} trace(s)`;
  $("#flow-outcome").textContent = outcome + (flow.unavailable.length ? ` (not answering: ${flow.unavailable.join(", ")})` : "");
}

// --- the system as a diagram ---------------------------------------------------------------

async function refreshSystem() {
  let view;
  try {
    view = await api("GET", "/v1/admin/console/system");
  } catch (error) {
    $("#system-note").textContent = error.message;
    return;
  }
  const svg = $("#system");
  svg.replaceChildren();
  const width = Math.max(svg.clientWidth || 900, 700);
  svg.setAttribute("viewBox", `0 0 ${width} 260`);
  const services = view.processes.filter((p) => p.name !== "gateway");
  const gateway = view.processes.find((p) => p.name === "gateway");
  const where = {};
  const box = (p, cx, cy) => {
    where[p.name] = [cx, cy];
    const lag = Object.values(p.consumer_lag).reduce((a, b) => a + b, 0);
    const g = el("svg:g", { "data-process": p.name, "data-ready": p.ready });
    g.append(el("svg:rect", { x: cx - 70, y: cy - 20, width: 140, height: 40, rx: 6, class: p.ready ? "box" : "box down" }));
    g.append(el("svg:text", { x: cx, y: cy - 4, "text-anchor": "middle" }, `${p.name} ${p.ready ? "ready" : "NOT READY"}`));
    g.append(el("svg:text", { x: cx, y: cy + 12, "text-anchor": "middle" }, `lag ${lag}`));
    svg.append(g);
  };
  const step = width / (services.length + 1);
  const edges = el("svg:g");
  svg.append(edges);
  if (gateway) box(gateway, width / 2, 30);
  services.forEach((p, i) => box(p, step * (i + 1), 110));
  const topicStep = width / (view.topics.length + 1);
  view.topics.forEach((t, i) => {
    const cx = topicStep * (i + 1), cy = 210;
    const owner = where[t.owner];
    if (owner) edges.append(el("svg:line", { x1: owner[0], y1: owner[1] + 20, x2: cx, y2: cy - 18, class: "edge" }));
    for (const reader of t.readers) {
      const r = where[reader];
      if (r) edges.append(el("svg:path", { d: `M${cx},${cy - 18} Q${(cx + r[0]) / 2},${cy - 60} ${r[0]},${r[1] + 20}`, class: "edge", "stroke-dasharray": "3 3" }));
    }
    const g = el("svg:g", { "data-topic": t.name });
    g.append(el("svg:rect", { x: cx - 68, y: cy - 18, width: 136, height: 36, rx: 4, class: "box topic" }));
    g.append(el("svg:text", { x: cx, y: cy - 3, "text-anchor": "middle" }, t.name));
    g.append(el("svg:text", { x: cx, y: cy + 12, "text-anchor": "middle" }, t.rate_per_s === null ? "commands" : `${t.rate_per_s}/s`));
    svg.append(g);
  });
  $("#system-note").textContent = `feed ${view.feed_running ? "running" : "stopped"}, ${view.feed_received} messages read`;
}

// --- sagas, dead letters, the ledger -------------------------------------------------------

async function refreshSagas() {
  try {
    const [summary, stuck] = await Promise.all([
      api("GET", "/v1/admin/console/sagas"),
      api("GET", "/v1/admin/sagas/stuck"),
    ]);
    const body = $("#sagas tbody");
    body.replaceChildren();
    for (const s of summary.services) {
      for (const c of s.counts) {
        const tr = el("tr");
        [s.service, c.kind, c.status, c.count].forEach((v) => tr.append(el("td", {}, String(v))));
        body.append(tr);
      }
    }
    $("#sagas-note").textContent = `${summary.in_flight} in flight` + (summary.unavailable.length ? `; not answering: ${summary.unavailable.join(", ")}` : "");
    const list = $("#stuck");
    list.replaceChildren();
    for (const s of stuck.services) for (const k of s.kinds) for (const saga of k.items) {
      list.append(el("li", { class: "bad" }, `${s.service} ${saga.kind} ${saga.id} at ${saga.step} (${saga.attempts} sends, ${saga.overdue_s}s overdue)`));
    }
    if (!list.children.length) list.append(el("li", { class: "ok" }, "none"));
  } catch (error) {
    $("#sagas-note").textContent = error.message;
  }
}

async function refreshDeadLetters() {
  try {
    const found = await api("GET", "/v1/admin/dead-letters");
    const list = $("#dead-letters");
    list.replaceChildren();
    for (const s of found.services) for (const letter of s.items) {
      const li = el("li", {}, `${s.service} #${letter.id} ${letter.topic} ${letter.error} `);
      if (letter.replayed_at) {
        li.append(el("span", { class: "ok" }, "replayed"));
      } else {
        const button = el("button", { "data-replay": `${s.service}/${letter.id}` }, "Replay");
        button.addEventListener("click", async () => {
          try {
            await api("POST", `/v1/admin/dead-letters/${s.service}/${letter.id}/replay`);
          } catch (error) {
            li.append(el("span", { class: "bad" }, ` ${error.message}`));
          }
          refreshDeadLetters();
        });
        li.append(button);
      }
      list.append(li);
    }
    if (!list.children.length) list.append(el("li", { class: "ok" }, "none"));
  } catch (error) {
    $("#dead-letters").replaceChildren(el("li", { class: "bad" }, error.message));
  }
}

async function runLedger() {
  const p = $("#ledger");
  try {
    const check = await api("GET", "/v1/admin/ledger/check");
    p.className = check.ok ? "ok" : "bad";
    p.textContent = `${new Date().toLocaleTimeString()}: ` +
      (check.ok ? "balanced" : check.violations.map((v) => v.rule || JSON.stringify(v)).join("; "));
  } catch (error) {
    p.className = "bad";
    p.textContent = error.message;
  }
}
$("#ledger-run").addEventListener("click", runLedger);

// --- demo controls ---------------------------------------------------------------------------

async function refreshFaults() {
  try {
    const [faults, clock] = await Promise.all([api("GET", "/v1/sandbox/faults"), api("GET", "/v1/sandbox/clock")]);
    const list = $("#faults");
    list.replaceChildren();
    for (const f of faults.items) {
      if (f.mode === "none" && !f.dropped && !f.duplicated) continue;
      list.append(el("li", { "data-fault": f.service, class: f.mode === "none" ? "" : "bad" },
        `${f.service}: ${f.mode}${f.mode === "none" ? "" : ` for ${f.remaining_s}s more`} (dropped ${f.dropped}, duplicated ${f.duplicated})`));
    }
    $("#clock").textContent = `sandbox time ${clock.now || ""}`;
  } catch (error) {
    $("#faults").replaceChildren(el("li", { class: "bad" }, error.message));
  }
}

$("#fault-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = Object.fromEntries(new FormData(event.target).entries());
  const body = { service: form.service, mode: form.mode };
  if (form.mode !== "none") body.duration_s = Number(form.duration_s);
  if (form.mode === "delay") body.delay_ms = Number(form.delay_ms);
  try {
    await api("POST", "/v1/sandbox/faults", body);
  } catch (error) {
    $("#faults").prepend(el("li", { class: "bad" }, error.message));
  }
  refreshFaults();
});

$("#clock-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const advance = Number(new FormData(event.target).get("advance_s"));
  try {
    const clock = await api("POST", "/v1/sandbox/clock", { advance_s: advance });
    $("#clock").textContent = `sandbox time ${clock.now}`;
  } catch (error) {
    $("#clock").textContent = error.message;
  }
});

$("#reset").addEventListener("click", async () => {
  if (!confirm("Reset the sandbox to its seed state? Every session ends, this one too.")) return;
  try {
    await api("POST", "/v1/sandbox/reset");
    loggedOut("the sandbox was reset: log in again");
  } catch (error) {
    $("#reset-note").textContent = error.message;
  }
});

// --- compliance: AML alerts, reports, freezes, the audit trail ------------------------------

function showTab(tab) {
  const entering = tab !== state.tab;
  state.tab = tab;
  for (const link of document.querySelectorAll("#tabs .tab")) link.classList.toggle("active", link.dataset.tab === tab);
  for (const section of document.querySelectorAll("#console > section[data-tab]")) section.hidden = section.dataset.tab !== tab;
  const denied = $("#compliance-denied");
  denied.hidden = tab !== "compliance" || state.roles.includes("compliance");
  denied.textContent = "You are signed in without the compliance role: alerts, reports and freezes " +
    "are shown to compliance officers only, and the actions here are theirs. The audit trail below is open to every operator.";
  if (tab === "compliance" && state.token) {
    refreshCompliance();
    if (entering) refreshAudit();
  }
}

// A refusal reads as one: a 403 says which role is missing instead of leaving an empty table.
function refusal(error) {
  return error.status === 403 ? `not allowed: ${error.message}` : error.message;
}

function cells(row, values) {
  for (const value of values) {
    const text = value instanceof Node || value === null || value === undefined ? null : String(value);
    const cell = el("td", text ? { title: text } : {}, text);
    if (value instanceof Node) cell.append(value);
    row.append(cell);
  }
  return row;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function refreshCompliance() {
  refreshAlerts();
  if (state.alertId) refreshAlert();
  refreshReports();
  refreshFrozen();
}

async function refreshAlerts() {
  const params = new URLSearchParams({ limit: 50 });
  for (const [name, value] of Object.entries(state.alertFilters)) if (value) params.set(name, value);
  const body = $("#alerts tbody");
  try {
    const page = await api("GET", `/v1/admin/compliance/alerts?${params}`);
    body.replaceChildren();
    for (const alert of page.items) {
      const row = cells(el("tr", { "data-alert": alert.id, "data-status": alert.status }), [
        when(alert.raised_at), alert.rule, alert.category, alert.status.replace("_", " "),
        alert.customer_id, `${alert.total} ${alert.currency}${alert.forced ? " (sandbox)" : ""}`, alert.reviewer,
      ]);
      row.classList.toggle("chosen", alert.id === state.alertId);
      row.addEventListener("click", () => { state.alertId = alert.id; refreshAlert(); refreshAlerts(); });
      body.append(row);
    }
    $("#alerts-note").textContent = `${page.items.length}${page.next_cursor ? "+" : ""} ${state.alertFilters.status || "in all states"}`;
  } catch (error) {
    body.replaceChildren();
    $("#alerts-note").textContent = refusal(error);
  }
}

async function refreshAlert() {
  const id = state.alertId;
  try {
    showAlert(await api("GET", `/v1/admin/compliance/alerts/${encodeURIComponent(id)}`));
  } catch (error) {
    $("#alert-error").textContent = refusal(error);
  }
}

function showAlert(alert) {
  if (alert.id !== state.alertId) return;
  const box = $("#alert");
  box.hidden = false;
  box.dataset.status = alert.status;
  $("#alert-id").textContent = alert.id;
  $("#alert-status").textContent = alert.status.replace("_", " ");
  $("#alert-detail").textContent = `${alert.rule} (${alert.category}): ${alert.detail}`;
  const body = $("#evidence tbody");
  body.replaceChildren();
  for (const m of alert.evidence) {
    // A movement's id is the ledger message's id and its side; the flow finder knows the
    // message by that id and draws the payment, deposit or order that posted it.
    const message = m.id.replace(/:(in|out)$/, "");
    const link = el("a", { href: `#/flow/${encodeURIComponent(message)}`, class: "flow-link" }, "flow");
    body.append(cells(el("tr"), [
      when(m.at), m.direction, m.kind.replace("_", " "), `${m.amount} ${m.currency}`,
      m.account_id, m.counterparty_account_id, link,
    ]));
  }
  const decided = alert.decided_by ? `; decided by ${alert.decided_by} at ${when(alert.decided_at)}: ${alert.decision_note}` : "";
  $("#alert-review").textContent = alert.reviewer ? `under review by ${alert.reviewer} since ${when(alert.review_started_at)}${decided}` : "not taken yet";
  const mine = alert.reviewer === state.subject;
  $("#alert-take").hidden = alert.status !== "open";
  $("#alert-decide").hidden = !(alert.status === "under_review" && mine);
}

$("#alert-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.alertFilters = Object.fromEntries(new FormData(event.target).entries());
  refreshAlerts();
});

$("#alert-take").addEventListener("click", async () => {
  $("#alert-error").textContent = "";
  try {
    showAlert(await api("POST", `/v1/admin/compliance/alerts/${encodeURIComponent(state.alertId)}/review`));
  } catch (error) {
    $("#alert-error").textContent = refusal(error);
  }
  refreshAlerts();
});

$("#alert-decide").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#alert-error").textContent = "";
  const note = new FormData(event.target).get("note");
  const decision = event.submitter ? event.submitter.value : "dismissed";
  try {
    showAlert(await api("POST", `/v1/admin/compliance/alerts/${encodeURIComponent(state.alertId)}/decision`, { decision, note }));
    event.target.reset();
  } catch (error) {
    $("#alert-error").textContent = refusal(error);
  }
  refreshAlerts();
  refreshReports();
});

async function refreshReports() {
  const params = new URLSearchParams({ limit: 50 });
  for (const [name, value] of Object.entries(state.reportFilters)) if (value) params.set(name, value);
  const body = $("#reports tbody");
  try {
    const page = await api("GET", `/v1/admin/compliance/reports?${params}`);
    body.replaceChildren();
    for (const r of page.items) {
      body.append(cells(el("tr", { "data-report": r.id }), [
        when(r.filed_at), r.kind.replace("_", "-"), r.rule, r.customer_id, `${r.total} ${r.currency}`, r.filed_by,
      ]));
    }
    $("#reports-note").textContent = `${page.items.length}${page.next_cursor ? "+" : ""} filed`;
  } catch (error) {
    body.replaceChildren();
    $("#reports-note").textContent = refusal(error);
  }
}

$("#report-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.reportFilters = Object.fromEntries(new FormData(event.target).entries());
  refreshReports();
});

async function refreshFrozen() {
  const body = $("#frozen tbody");
  try {
    const found = await api("GET", "/v1/admin/accounts/frozen");
    // Rows still frozen the same way stay as they are: a reason being typed survives the refresh.
    const kept = new Map([...body.children].map((row) => [row.dataset.frozen + row.dataset.since, row]));
    body.replaceChildren(...found.items.map((account) => kept.get(account.id + account.freeze.since) || frozenRow(account)));
    $("#freezes-note").textContent = `${found.items.length} frozen`;
  } catch (error) {
    body.replaceChildren();
    $("#freezes-note").textContent = refusal(error);
  }
}

function frozenRow(account) {
  const lift = el("form", { class: "compliance-action unfreeze" });
  lift.append(el("input", { name: "reason", placeholder: "why lifted", required: "", maxlength: 200 }));
  lift.append(el("button", { type: "submit" }, "Unfreeze"));
  lift.addEventListener("submit", async (event) => {
    event.preventDefault();
    await changeFreeze(account.id, "unfreeze", { reason: new FormData(lift).get("reason") });
  });
  return cells(el("tr", { "data-frozen": account.id, "data-since": account.freeze.since }), [
    account.id, account.customer_id, account.freeze.mode, account.freeze.reason, when(account.freeze.since), lift,
  ]);
}

async function changeFreeze(accountId, change, body) {
  $("#freeze-error").textContent = "";
  try {
    await api("POST", `/v1/admin/accounts/${encodeURIComponent(accountId)}/${change}`, body);
  } catch (error) {
    $("#freeze-error").textContent = `${accountId}: ${refusal(error)}`;
  }
  refreshFrozen();
}

$("#freeze-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = Object.fromEntries(new FormData(event.target).entries());
  await changeFreeze(form.account_id.trim(), "freeze", { mode: form.mode, reason: form.reason });
});

$("#audit-verify").addEventListener("click", async () => {
  const verdict = $("#audit-verdict"), list = $("#audit-chains");
  verdict.textContent = "checking…";
  verdict.className = "";
  list.replaceChildren();
  try {
    const check = await api("GET", "/v1/admin/audit/verify");
    verdict.className = check.ok ? "ok" : "bad";
    verdict.textContent = `${new Date().toLocaleTimeString()}: ${check.ok ? "ok" : "BROKEN"}`;
    for (const p of check.processes) {
      const text = p.ok ? `${p.service}: ok, ${p.rows_checked} rows` :
        `${p.service}: broken at ${p.broken.seq === null ? "the head" : `#${p.broken.seq}`}: ${p.broken.reason} (${p.rows_checked} rows)`;
      list.append(el("li", { class: p.ok ? "ok" : "bad", "data-chain": p.service }, text));
    }
    for (const name of check.unavailable) list.append(el("li", { class: "bad", "data-chain": name }, `${name}: did not answer`));
  } catch (error) {
    verdict.className = "bad";
    verdict.textContent = refusal(error);
  }
});

// The trail is served oldest first: read the chosen span of sandbox time to its end and
// show the newest entries, so "latest" means latest whatever the sandbox clock says.
const AUDIT_SHOWN = 100, AUDIT_PAGES = 10;

async function refreshAudit() {
  const body = $("#audit tbody"), note = $("#audit-note");
  const { minutes, ...filters } = state.auditFilters;
  try {
    const clock = await api("GET", "/v1/sandbox/clock");
    const params = new URLSearchParams({ limit: 500, from: new Date(Date.parse(clock.now) - Number(minutes) * 60_000).toISOString() });
    for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value.trim());
    let entries = [], page = null, read = 0;
    for (let n = 0; n < AUDIT_PAGES && (page === null || page.next_cursor); n++) {
      if (page) params.set("cursor", page.next_cursor);
      page = await api("GET", `/v1/admin/audit?${params}`);
      read += page.items.length;
      entries = entries.concat(page.items).slice(-AUDIT_SHOWN);
    }
    body.replaceChildren();
    for (const e of entries.reverse()) {
      const change = e.after === null && e.before === null ? "" : `${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}`;
      body.append(cells(el("tr", { "data-action": e.action }), [
        when(e.at), e.service, e.seq, e.actor, e.action, [e.subject_kind, e.subject_id].filter(Boolean).join(" "), e.customer_id, change,
      ]));
    }
    const missing = page.unavailable.length ? `; not answering: ${page.unavailable.join(", ")}` : "";
    const more = page.next_cursor ? `; more than ${read} in that time: narrow it` : "";
    note.textContent = `latest ${entries.length} of ${read} in the last ${minutes} min${more}${missing}`;
  } catch (error) {
    note.textContent = refusal(error);
  }
}

$("#audit-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.auditFilters = Object.fromEntries(new FormData(event.target).entries());
  refreshAudit();
});
