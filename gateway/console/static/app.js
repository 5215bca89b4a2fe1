// Sandbank's operator console: plain JavaScript, no build step. The access token lives in
// this page's memory only; every panel reads the gateway's JSON routes with it.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const state = { token: null, feedSeq: 0, feedFilters: {}, feedAbort: null, flowId: null, timers: [] };
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
  if (!answer.ok) throw new Error((data && data.detail) || `${answer.status}`);
  return data;
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
  $("#who").textContent = "operator";
  state.feedSeq = 0;
  $("#feed tbody").replaceChildren();
  follow();
  const every = (ms, job) => { job(); state.timers.push(setInterval(job, ms)); };
  every(2000, refreshSystem);
  every(3000, refreshSagas);
  every(2000, refreshFaults);
  every(5000, refreshDeadLetters);
  every(1500, () => state.flowId && refreshFlow());
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
