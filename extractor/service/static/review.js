// The review page: /review lists the documents, /review/{id} works one document's review queue.
// Keyboard alone: Enter accepts the value (or saves the correction typed over it), Tab moves on,
// Shift+Tab goes back, Esc restores the extracted text. Decided items leave the queue.
"use strict";

const $ = (sel) => document.querySelector(sel);
const store = {
  get key() { return localStorage.getItem("extractor.apiKey") || ""; },
  set key(v) { localStorage.setItem("extractor.apiKey", v); },
  get reviewer() { return localStorage.getItem("extractor.reviewer") || ""; },
  set reviewer(v) { localStorage.setItem("extractor.reviewer", v); },
  get below() { return localStorage.getItem("extractor.below") || ""; },
  set below(v) { localStorage.setItem("extractor.below", v); },
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function say(msg, ok) {
  const s = $("#status");
  s.textContent = msg || "";
  s.className = ok ? "ok" : "";
}

async function api(path, options) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const detail = body && (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
    const err = new Error(detail || `${r.status} ${r.statusText}`);
    err.status = r.status;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------- settings in the header

function setupSettings() {
  const key = $("#api-key"), who = $("#reviewer"), below = $("#below");
  key.value = store.key;
  who.value = store.reviewer;
  below.value = store.below;
  key.addEventListener("change", () => { store.key = key.value.trim(); });
  who.addEventListener("change", () => { store.reviewer = who.value.trim(); });
  below.addEventListener("change", () => { store.below = below.value.trim(); if (state.docId) loadQueue(); });
  for (const input of [key, who, below]) {
    input.addEventListener("keydown", (ev) => {  // Enter: done here, on to the queue (a new threshold reloads it)
      if (ev.key === "Enter") { ev.preventDefault(); input.blur(); focusItem(0); }
    });
  }
}

// ---------------------------------------------------------------- the document list

async function showDocuments() {
  $("#documents").hidden = false;
  const body = $("#doc-table tbody");
  const b = threshold();
  const docs = await api("/api/documents" + (b === null ? "" : `?below=${b}`));
  body.replaceChildren();
  for (const d of docs) {
    const r = d.review;
    const progress = r ? `${r.cells_reviewed + r.kpis_reviewed} reviewed, ${r.queue} waiting (${Math.round(100 * r.fraction_done)}%)` : "";
    body.append(el("tr", {},
      el("td", { text: String(d.id) }),
      el("td", {}, d.status === "pending" ? d.name : el("a", { href: `/review/${d.id}`, text: d.name })),
      el("td", { text: d.status }), el("td", { text: String(d.n_pages) }), el("td", { text: progress })));
  }
  if (!docs.length) body.append(el("tr", {}, el("td", { colspan: "5", text: "No documents yet: POST a file to /api/jobs." })));
}

// ---------------------------------------------------------------- one document's queue

const state = { docId: null, items: [], total: 0 };

function threshold() {
  const v = parseFloat($("#below").value);
  return Number.isFinite(v) && v >= 0 && v <= 1 ? v : null;
}

function queueUrl() {
  const b = threshold();
  return `/api/documents/${state.docId}/review/queue?limit=500` + (b === null ? "" : `&below=${b}`);
}

function showProgress(p) {
  const done = p.cells_reviewed + p.kpis_reviewed;
  const pct = Math.round(100 * p.fraction_done);
  $("#progress-fill").style.width = `${pct}%`;
  $(".bar").setAttribute("aria-valuenow", String(pct));
  $("#progress-text").textContent =
    `${done} of ${done + p.queue} flagged values reviewed (${pct}%) · ${p.cells_corrected + p.kpis_corrected} corrected · ` +
    `${p.queue} waiting below ${p.below}`;
  if ($("#below").value === "") $("#below").value = String(p.below);
}

function showCount() {
  const n = state.items.length;
  $("#queue-count").textContent = n ? `${state.total} value${state.total === 1 ? "" : "s"} to review` : "";
}

function itemNode(it) {
  const where = [`page ${it.page ?? "?"}`, it.table_title || it.table_id,
    it.target === "cell" ? `row ${it.row + 1}, column ${it.col + 1}` : `KPI ${it.kpi ? it.kpi.period : ""} row ${it.row + 1}`,
    `confidence ${it.confidence.toFixed(2)}`].join(" · ");
  const headers = el("div", { class: "headers" });
  if (it.row_headers.length) headers.append(el("b", { text: "Row: " }), it.row_headers.join(" › "), "  ");
  if (it.col_headers.length) headers.append(el("b", { text: "Column: " }), it.col_headers.join(" › "));
  const reasons = el("ul", { class: "reasons" }, ...it.reasons.map((r) => el("li", { text: r })));
  const input = el("input", { class: "value", type: "text", spellcheck: "false", "aria-label": `value of ${it.ref}` });
  input.value = it.value;
  const li = el("li", { class: "item" + (it.broken_checks.length ? " broken" : ""), "data-key": `${it.target}:${it.id}`,
                        "data-ref": it.ref, "data-target": it.target },
    el("figure", {}, it.image_url ? el("img", { src: it.image_url, alt: `scan of ${it.ref}`, loading: "lazy" })
                                  : el("span", { text: "no image" })),
    el("div", { class: "body" },
      el("div", { class: "where", text: where }), headers, reasons,
      el("div", { class: "extracted" }, "Extracted: ", el("span", { class: "orig", text: it.value === "" ? "(empty)" : it.value })),
      input));
  input.addEventListener("keydown", (ev) => onKey(ev, it, li, input));
  input.addEventListener("input", () => input.classList.toggle("changed", input.value !== it.value));
  input.addEventListener("focus", () => {
    document.querySelectorAll(".item.current").forEach((n) => n.classList.remove("current"));
    li.classList.add("current");
    li.scrollIntoView({ block: "nearest" });
  });
  return li;
}

function inputs() { return Array.from(document.querySelectorAll("#queue .value")); }

function focusItem(i) {
  const all = inputs();
  if (!all.length) return;
  const target = all[((i % all.length) + all.length) % all.length];
  target.focus();
  target.select();
}

function onKey(ev, it, li, input) {
  const all = inputs();
  const i = all.indexOf(input);
  if (ev.key === "Tab") {
    ev.preventDefault();
    focusItem(ev.shiftKey ? i - 1 : i + 1);
  } else if (ev.key === "Escape") {
    input.value = it.value;
    input.classList.remove("changed");
  } else if (ev.key === "Enter") {
    ev.preventDefault();
    decide(it, li, input);
  }
}

async function decide(it, li, input) {
  if (!store.key) {
    say("Enter your API key at the top first (the service's X-API-Key).");
    $("#api-key").focus();
    return;
  }
  if (li.dataset.busy) return;
  li.dataset.busy = "1";
  const value = input.value;
  const body = { target: it.target, id: it.id, action: value === it.value ? "accept" : "correct" };
  if (body.action === "correct") body.value = value;
  if (store.reviewer) body.reviewer = store.reviewer;
  try {
    const rv = await api(`/api/documents/${state.docId}/reviews`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-API-Key": store.key }, body: JSON.stringify(body) });
    const next = inputs().indexOf(input);
    li.remove();
    state.items = state.items.filter((x) => !(x.target === it.target && x.id === it.id));
    state.total = Math.max(0, state.total - 1);
    showCount();
    say(rv.action === "accept" ? `Accepted ${it.ref}: “${rv.new_value}”` : `Corrected ${it.ref}: “${rv.old_value}” → “${rv.new_value}”`, true);
    if (!state.items.length) await loadQueue();
    else focusItem(Math.min(next, inputs().length - 1));
    showProgress(await api(`/api/documents/${state.docId}/review/progress` + (threshold() === null ? "" : `?below=${threshold()}`)));
  } catch (e) {
    delete li.dataset.busy;
    if (e.status === 404) { li.remove(); say(`${it.ref} is gone: ${e.message}`); return; }
    say(e.status === 401 ? `API key refused: ${e.message}` : `Not saved: ${e.message}`);
    if (e.status === 401) $("#api-key").focus();
  }
}

async function loadQueue() {
  const q = await api(queueUrl());
  state.items = q.items;
  state.total = q.total;
  const list = $("#queue");
  list.replaceChildren(...q.items.map(itemNode));
  if (!q.items.length) list.append(el("li", { class: "empty", text: `Nothing left to review below ${q.below}.` }));
  showCount();
  showProgress(q.progress);
  focusItem(0);
}

async function showDocument(id) {
  state.docId = id;
  $("#review").hidden = false;
  const base = `/api/documents/${id}`;
  $("#dl-json").href = `${base}/result.json`;
  $("#dl-xlsx").href = `${base}/result.xlsx`;
  $("#dl-kpis").href = `${base}/kpis.csv`;
  $("#dl-cells").href = `${base}/cells.csv`;
  for (;;) {
    const d = await api(base);
    $("#doc-name").textContent = `${d.name} (document ${d.id})`;
    document.title = `review · ${d.name}`;
    if (d.status !== "pending") break;
    const jobs = d.jobs.length ? await api(`/api/jobs/${d.jobs[d.jobs.length - 1]}`) : null;
    say(jobs ? `Still being extracted: job ${jobs.id} ${jobs.state}, ${jobs.pages_done} of ${jobs.pages_total ?? "?"} pages` : "Not extracted yet.", true);
    if (jobs && jobs.state === "failed") { say(`Extraction failed: ${jobs.error}`); return; }
    await new Promise((r) => setTimeout(r, 2000));
  }
  say("");
  await loadQueue();
}

async function main() {
  setupSettings();
  const m = location.pathname.match(/^\/review\/(\d+)\/?$/);
  try {
    if (m) await showDocument(parseInt(m[1], 10));
    else await showDocuments();
  } catch (e) {
    say(`Could not load: ${e.message}`);
  }
}

main();
