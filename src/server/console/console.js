// The tally console: a SQL editor, result tables and charts, the engine's
// figures and the rule hits, over the server's own HTTP API (no framework,
// nothing fetched from elsewhere). docs/console.md describes it.
"use strict";

const $ = (id) => document.getElementById(id);
const editor = $("sql");
const HISTORY_KEY = "tally.history";
const HISTORY_MAX = 50;
const HITS_MAX = 100;

// What the result area shows: the rows and how to fetch them again as CSV.
let last = null; // { rows, csv: () => Promise<Response>, name }
let running = false;
let liveTimer = null;
let historyAt = -1;

// ---------------------------------------------------------------- queries

async function runSql(sql) {
  return request("/query", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ sql }),
  }, () => fetch("/query", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/csv" },
    body: JSON.stringify({ sql }),
  }), "query", sql);
}

async function runSaved(name, params) {
  const qs = new URLSearchParams(params).toString();
  const url = `/queries/${encodeURIComponent(name)}${qs ? "?" + qs : ""}`;
  return request(url, { headers: { Accept: "application/json" } },
    () => fetch(url, { headers: { Accept: "text/csv" } }), name, null);
}

// Runs one request and shows its answer: a table (and a chart when the
// rows are a time series), or the error at its place in the SQL.
async function request(url, init, csv, name, sql) {
  if (running) return;
  running = true;
  $("run").disabled = true;
  const started = performance.now();
  try {
    const response = await fetch(url, init);
    const ms = performance.now() - started;
    let body;
    try {
      body = await response.json();
    } catch (_) {
      body = { error: `the server answered ${response.status} with no JSON` };
    }
    if (!response.ok || !Array.isArray(body)) {
      showError(body, sql, response.status);
      return;
    }
    hideError();
    last = { rows: body, csv, name };
    renderTable(body);
    renderChart(body);
    $("status").textContent =
      `${body.length.toLocaleString()} row${body.length === 1 ? "" : "s"} · ${ms.toFixed(1)} ms` +
      (liveTimer ? " · live" : "");
    $("csv").disabled = $("json").disabled = false;
  } catch (e) {
    showError({ error: `cannot reach the server: ${e.message}` }, sql, 0);
  } finally {
    running = false;
    $("run").disabled = false;
  }
}

function showError(body, sql, status) {
  const box = $("error");
  const message = document.createElement("p");
  message.textContent = body && body.error ? String(body.error) : `error ${status}`;
  box.replaceChildren(message);
  if (sql && body && Number.isInteger(body.line) && Number.isInteger(body.column)) {
    const lines = sql.split("\n");
    const line = lines[body.line - 1];
    if (line !== undefined) {
      // The line in error, with a caret under the column, as the shell shows it.
      const gutter = `${body.line} | `;
      const snippet = document.createElement("pre");
      snippet.textContent = `${gutter}${line}\n${" ".repeat(gutter.length + body.column - 1)}^`;
      box.append(snippet);
      let offset = 0;
      for (let i = 0; i < body.line - 1; i++) offset += lines[i].length + 1;
      offset += Math.min(body.column - 1, line.length);
      editor.setSelectionRange(offset, offset);
    }
  }
  box.hidden = false;
  // What is shown above belonged to another query.
  last = null;
  $("result").replaceChildren();
  $("chart-box").hidden = true;
  $("csv").disabled = $("json").disabled = true;
  $("status").textContent = "";
}

function hideError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

// ----------------------------------------------------------------- tables

function columnsOf(rows) {
  return rows.length ? Object.keys(rows[0]) : [];
}

function renderTable(rows) {
  const box = $("result");
  box.replaceChildren();
  const columns = columnsOf(rows);
  if (!columns.length) {
    const p = document.createElement("p");
    p.className = "muted";
    p.style.padding = ".5rem";
    p.textContent = "(no rows)";
    box.append(p);
    return;
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = c;
    if (rows.every((r) => r[c] === null || typeof r[c] === "number")) th.className = "num";
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const c of columns) {
      const td = tr.insertCell();
      const v = row[c];
      if (v === null || v === undefined) {
        td.textContent = "NULL";
        td.className = "null";
      } else if (typeof v === "number") {
        td.textContent = Number.isInteger(v) ? v.toLocaleString("en-US") : String(v);
        td.className = "num";
      } else {
        td.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
      }
    }
  }
  box.append(table);
}

// ----------------------------------------------------------------- charts

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const COLORS = ["#1a5fb4", "#c64600", "#26a269", "#9141ac", "#a51d2d", "#986a44"];

// A time series: the first column holds timestamps, at least two rows, and
// numeric columns to draw. A text column besides splits the series (one
// line per value of it, drawing the first numeric column).
function seriesOf(rows) {
  const columns = columnsOf(rows);
  if (rows.length < 2 || columns.length < 2) return null;
  const time = columns[0];
  if (!rows.every((r) => typeof r[time] === "string" && ISO.test(r[time]))) return null;
  const rest = columns.slice(1);
  const numeric = rest.filter((c) => rows.every((r) => r[c] === null || typeof r[c] === "number"));
  const text = rest.filter((c) => rows.every((r) => typeof r[c] === "string"));
  if (!numeric.length) return null;
  const series = new Map();
  const point = (name, r, c) => {
    if (!series.has(name)) series.set(name, []);
    if (r[c] !== null) series.get(name).push([Date.parse(r[time]), r[c]]);
  };
  for (const r of rows) {
    if (text.length) point(`${r[text[0]]}`, r, numeric[0]);
    else for (const c of numeric.slice(0, COLORS.length)) point(c, r, c);
  }
  const lines = [...series.entries()].slice(0, COLORS.length);
  return { time, lines, measure: text.length ? numeric[0] : null };
}

function svg(tag, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function renderChart(rows) {
  const box = $("chart-box");
  const chart = $("chart");
  const s = seriesOf(rows);
  chart.replaceChildren();
  if (!s) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const W = 800, H = 260, L = 56, R = 10, T = 10, B = 28;
  const points = s.lines.flatMap(([, p]) => p);
  const x0 = Math.min(...points.map((p) => p[0])), x1 = Math.max(...points.map((p) => p[0]));
  let y0 = Math.min(0, ...points.map((p) => p[1])), y1 = Math.max(...points.map((p) => p[1]));
  if (y1 === y0) y1 = y0 + 1;
  const X = (t) => L + (x1 === x0 ? 0.5 : (t - x0) / (x1 - x0)) * (W - L - R);
  const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  chart.append(svg("line", { class: "axis", x1: L, y1: Y(y0), x2: W - R, y2: Y(y0) }));
  chart.append(svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (i / 4) * (y1 - y0);
    chart.append(svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end" }, compact(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = x0 + (i / 4) * (x1 - x0);
    const anchor = i === 0 ? "start" : i === 4 ? "end" : "middle";
    chart.append(svg("text", { x: X(t), y: H - 8, "text-anchor": anchor }, timeLabel(t, x1 - x0)));
  }
  s.lines.forEach(([name, p], i) => {
    p.sort((a, b) => a[0] - b[0]);
    const d = p.map(([t, v], j) => `${j ? "L" : "M"}${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join("");
    chart.append(svg("path", { d, fill: "none", stroke: COLORS[i], "stroke-width": 2,
      "vector-effect": "non-scaling-stroke", "data-series": name }));
  });
  const names = s.lines.map(([n], i) => `${n} (${["blue", "orange", "green", "purple", "red", "brown"][i]})`);
  $("chart-caption").textContent =
    `${s.measure ? s.measure + " by " : ""}${names.join(", ")} per ${s.time}, ` +
    `${new Date(x0).toISOString()} to ${new Date(x1).toISOString()}`;
}

function compact(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(a < 10 ? 2 : 0);
}

function timeLabel(t, span) {
  const iso = new Date(t).toISOString();
  return span >= 2 * 86400e3 ? iso.slice(5, 16).replace("T", " ") : iso.slice(11, span < 600e3 ? 19 : 16);
}

// -------------------------------------------------------------- downloads

function download(name, type, data) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

$("json").addEventListener("click", () => {
  if (last) download(`${last.name}.json`, "application/json", JSON.stringify(last.rows, null, 2) + "\n");
});

$("csv").addEventListener("click", async () => {
  if (!last) return;
  const response = await last.csv();
  if (response.ok) download(`${last.name}.csv`, "text/csv", await response.text());
  else showError(await response.json().catch(() => ({ error: "CSV failed" })), null, response.status);
});

// ---------------------------------------------------------------- history

function pastQueries() {
  try {
    const h = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(h) ? h.filter((s) => typeof s === "string") : [];
  } catch (_) {
    return [];
  }
}

function remember(sql) {
  const h = [sql, ...pastQueries().filter((s) => s !== sql)].slice(0, HISTORY_MAX);
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(h));
  } catch (_) { /* private mode: history lives for this page only */ }
  historyAt = -1;
  fillHistory(h);
}

function fillHistory(h) {
  const select = $("history");
  select.replaceChildren(new Option("—", ""));
  for (const sql of h) {
    const one = sql.replace(/\s+/g, " ");
    select.append(new Option(one.length > 60 ? one.slice(0, 59) + "…" : one, sql));
  }
}

$("history").addEventListener("change", (e) => {
  if (e.target.value) {
    editor.value = e.target.value;
    editor.focus();
  }
});

// ------------------------------------------------------------ the editor

function runEditor() {
  const sql = editor.value.trim();
  if (!sql) return;
  remember(sql);
  return runSql(sql);
}

$("query-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runEditor();
});

editor.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    runEditor();
  } else if ((e.key === "ArrowUp" || e.key === "ArrowDown") && e.ctrlKey) {
    const h = pastQueries();
    if (!h.length) return;
    e.preventDefault();
    historyAt = Math.max(-1, Math.min(h.length - 1, historyAt + (e.key === "ArrowUp" ? 1 : -1)));
    if (historyAt >= 0) editor.value = h[historyAt];
  }
});

$("share").addEventListener("click", async () => {
  const url = `${location.origin}/?sql=${encodeURIComponent(editor.value.trim())}`;
  window.history.replaceState(null, "", url);
  try {
    await navigator.clipboard.writeText(url);
    $("status").textContent = "link copied";
  } catch (_) {
    $("status").textContent = "the address bar has the link";
  }
});

// -------------------------------------------------------------- live mode

function setLive() {
  clearInterval(liveTimer);
  liveTimer = null;
  if (!$("live").checked) return;
  const seconds = Math.max(1, Math.min(3600, Number($("every").value) || 2));
  liveTimer = setInterval(() => {
    const sql = editor.value.trim();
    if (sql && !running) runSql(sql);
  }, seconds * 1000);
  runEditor();
}

$("live").addEventListener("change", setLive);
$("every").addEventListener("change", () => $("live").checked && setLive());

// ------------------------------------------------------- saved queries

async function loadSaved() {
  const box = $("saved");
  let list;
  try {
    const response = await fetch("/queries", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    list = await response.json();
  } catch (_) {
    return;
  }
  if (!Array.isArray(list) || !list.length) return;
  box.replaceChildren();
  for (const q of list) {
    const form = document.createElement("form");
    form.className = "saved-query";
    form.dataset.name = q.name;
    const button = document.createElement("button");
    button.type = "submit";
    button.textContent = q.name;
    form.append(button);
    if (q.description) {
      // The first sentence; all of it on hover.
      const p = document.createElement("p");
      const first = /^.*?\.(\s|$)/.exec(q.description);
      const short = first ? first[0].trim() : q.description;
      p.textContent = short.length > 140 ? short.slice(0, 139) + "…" : short;
      p.title = q.description;
      form.append(p);
    }
    for (const name of q.params || []) {
      const label = document.createElement("label");
      label.textContent = `:${name} `;
      const input = document.createElement("input");
      input.name = name;
      input.required = true;
      label.append(input);
      form.append(label);
    }
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const params = {};
      for (const input of form.querySelectorAll("input")) params[input.name] = input.value;
      editor.value = q.sql;
      runSaved(q.name, params);
    });
    box.append(form);
  }
}

// ----------------------------------------------------------- the engine

let previous = null; // { t, accepted }

function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const kv of (m[3] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[kv[1]] = kv[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

async function loadEngine() {
  let metrics;
  try {
    const response = await fetch("/metrics");
    if (!response.ok) return;
    metrics = parseMetrics(await response.text());
  } catch (_) {
    return;
  }
  const one = (name) => metrics.find((m) => m.name === name && !Object.keys(m.labels).length);
  const rows = [];
  const now = performance.now();
  const accepted = one("tally_events_accepted_total");
  if (accepted) {
    let rate = "—";
    if (previous && now > previous.t) {
      rate = Math.max(0, ((accepted.value - previous.accepted) * 1000) / (now - previous.t));
      rate = Math.round(rate).toLocaleString("en-US");
    }
    previous = { t: now, accepted: accepted.value };
    rows.push(["events/s accepted", rate]);
    rows.push(["accepted", accepted.value.toLocaleString("en-US")]);
  }
  const lines = one("tally_lines_total");
  if (lines) rows.push(["lines", lines.value.toLocaleString("en-US")]);
  for (const m of metrics.filter((m) => m.name === "tally_events_rejected_total" && m.labels.reason)) {
    rows.push([`rejected: ${m.labels.reason}`, m.value.toLocaleString("en-US")]);
  }
  for (const m of metrics.filter((m) => m.name === "tally_actors" && m.labels.kind)) {
    rows.push([`actors: ${m.labels.kind}`, m.value.toLocaleString("en-US")]);
  }
  for (const m of metrics.filter((m) => /^tally_(wal|checkpoint)/.test(m.name))) {
    const label = m.name.replace(/^tally_/, "").replace(/_/g, " ");
    rows.push([label, /bytes/.test(m.name) ? bytes(m.value) : m.value.toLocaleString("en-US")]);
  }
  const dl = $("engine");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    dl.append(Object.assign(document.createElement("dt"), { textContent: k }));
    dl.append(Object.assign(document.createElement("dd"), { textContent: v }));
  }
}

async function loadHealth() {
  const el = $("health");
  try {
    const response = await fetch("/health");
    const h = await response.json();
    const parts = [h.status];
    if (h.schema) parts.push(`schema ${h.schema}`);
    if (h.now) parts.push(`now ${h.now}`);
    el.textContent = parts.join(" · ");
    el.className = response.ok ? "" : "down";
  } catch (_) {
    el.textContent = "server unreachable";
    el.className = "down";
  }
}

// ------------------------------------------------------------------ hits

let hitCount = 0;

function listenHits() {
  if (!window.EventSource) return;
  const source = new EventSource("/hits");
  source.onmessage = (e) => {
    hitCount++;
    $("no-hits").hidden = true;
    $("hit-count").textContent = `(${hitCount.toLocaleString("en-US")})`;
    const li = document.createElement("li");
    li.textContent = e.data;
    const list = $("hits");
    list.prepend(li);
    while (list.children.length > HITS_MAX) list.lastChild.remove();
  };
}

// ----------------------------------------------------------------- start

fillHistory(pastQueries());
loadHealth();
loadEngine();
loadSaved();
listenHits();
setInterval(loadHealth, 5000);
setInterval(loadEngine, 2000);

const shared = new URLSearchParams(location.search).get("sql");
if (shared) {
  editor.value = shared;
  runEditor();
}
