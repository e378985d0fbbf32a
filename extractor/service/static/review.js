// The review page: /review lists the documents, /review/{id} works one document's review queue.
// Keyboard alone: Enter accepts the value (or saves the correction typed over it), Tab moves on,
// Shift+Tab goes back, Esc restores the extracted text. Decided items leave the queue.
// Every /api request (reads, page images and downloads too) carries the API key in X-API-Key; the
// service records the key's name as the reviewer. The key is kept in this tab only (memory and
// sessionStorage) unless "remember on this computer" is ticked (then localStorage).
"use strict";

const $ = (sel) => document.querySelector(sel);
const KEY_ITEM = "extractor.apiKey";

function storage(kind) {  // null where the browser refuses storage
  try { return kind === "local" ? window.localStorage : window.sessionStorage; } catch (e) { return null; }
}

const store = {
  memoryKey: "",
  get key() {
    if (this.memoryKey) return this.memoryKey;
    for (const kind of ["session", "local"]) {
      const v = storage(kind) && storage(kind).getItem(KEY_ITEM);
      if (v) return v;
    }
    return "";
  },
  setKey(v, remember) {
    this.memoryKey = v;
    for (const kind of ["session", "local"]) if (storage(kind)) storage(kind).removeItem(KEY_ITEM);
    const where = storage(remember ? "local" : "session");
    if (v && where) where.setItem(KEY_ITEM, v);
  },
  get remembered() { return !!(storage("local") && storage("local").getItem(KEY_ITEM)); },
  get below() { return (storage("local") && storage("local").getItem("extractor.below")) || ""; },
  set below(v) { if (storage("local")) storage("local").setItem("extractor.below", v); },
};

function withKey(options) {
  const o = Object.assign({}, options || {});
  o.headers = Object.assign({}, o.headers || {}, store.key ? { "X-API-Key": store.key } : {});
  return o;
}

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
  const r = await fetch(path, withKey(options));
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

function askForKey(msg) {
  say(msg || "Enter the API key (the service's X-API-Key) at the top, then Enter.");
  $("#api-key").focus();
}

async function showHolder() {  // whose key it is: the name the service records with each decision
  try {
    $("#who").textContent = store.key ? `reviewing as ${(await api("/api/me")).name}` : "";
  } catch (e) {
    $("#who").textContent = "";
  }
}

function applyKey() {  // a new key: keep it (this tab, or this computer if ticked) and load the page again
  const v = $("#api-key").value.trim();
  if (v === store.key) return false;
  store.setKey(v, $("#remember").checked);
  showHolder();
  load();
  return true;
}

function setupSettings() {
  const key = $("#api-key"), below = $("#below"), remember = $("#remember");
  $("#settings").addEventListener("submit", (ev) => ev.preventDefault());
  key.value = store.key;
  remember.checked = store.remembered;
  below.value = store.below;
  key.addEventListener("change", applyKey);
  remember.addEventListener("change", () => store.setKey(store.key, remember.checked));
  below.addEventListener("change", () => { store.below = below.value.trim(); if (state.docId) loadQueue(); });
  for (const input of [key, below]) {
    input.addEventListener("keydown", (ev) => {  // Enter: done here, on to the queue (a new threshold reloads it)
      if (ev.key !== "Enter") return;
      ev.preventDefault();
      if (input === key && applyKey()) return;  // the queue gets the focus once loaded
      input.blur();
      focusItem(0);
    });
  }
}

// ---------------------------------------------------------------- images and downloads, fetched with the key

const lazy = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) { lazy.unobserve(e.target); showImage(e.target); }
  }, { rootMargin: "600px" })
  : null;

async function showImage(img) {
  try {
    const r = await fetch(img.dataset.src, withKey());
    if (!r.ok) throw new Error(`${r.status}`);
    img.src = URL.createObjectURL(await r.blob());
  } catch (e) {
    img.alt = `scan not loaded (${e.message})`;
  }
}

function forgetImages(node) {  // blob URLs hold their images until revoked
  node.querySelectorAll("img").forEach((img) => {
    if (lazy) lazy.unobserve(img);
    if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  });
}

function fileName(r, fallback) {
  const cd = r.headers.get("Content-Disposition") || "";
  const m = cd.match(/filename\*=UTF-8''([^;]+)/i);
  try { return m ? decodeURIComponent(m[1]) : fallback; } catch (e) { return fallback; }
}

async function download(ev) {
  ev.preventDefault();
  const a = ev.currentTarget;
  try {
    const r = await fetch(a.href, withKey());
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new Error((body && body.detail) || `${r.status}`);
    }
    const url = URL.createObjectURL(await r.blob());
    const tmp = el("a", { href: url, download: fileName(r, a.href.split("/").pop()) });
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    say(`Download failed: ${e.message}`);
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
    el("figure", {}, it.image_url ? el("img", { "data-src": it.image_url, alt: `scan of ${it.ref}` })
                                  : el("span", { text: "no image" })),
    el("div", { class: "body" },
      el("div", { class: "where", text: where }), headers, reasons,
      el("div", { class: "extracted" }, "Extracted: ", el("span", { class: "orig", text: it.value === "" ? "(empty)" : it.value })),
      input));
  const img = li.querySelector("img");
  if (img) { if (lazy) lazy.observe(img); else showImage(img); }
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
    askForKey();
    return;
  }
  if (li.dataset.busy) return;
  li.dataset.busy = "1";
  const value = input.value;
  const body = { target: it.target, id: it.id, action: value === it.value ? "accept" : "correct" };
  if (body.action === "correct") body.value = value;
  try {
    const rv = await api(`/api/documents/${state.docId}/reviews`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const next = inputs().indexOf(input);
    forgetImages(li);
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
    if (e.status === 404) { forgetImages(li); li.remove(); say(`${it.ref} is gone: ${e.message}`); return; }
    if (e.status === 401) askForKey(`API key refused: ${e.message}`);
    else say(`Not saved: ${e.message}`);
  }
}

async function loadQueue() {
  const q = await api(queueUrl());
  state.items = q.items;
  state.total = q.total;
  const list = $("#queue");
  forgetImages(list);
  list.replaceChildren(...q.items.map(itemNode));
  if (!q.items.length) list.append(el("li", { class: "empty", text: `Nothing left to review below ${q.below}.` }));
  showCount();
  showProgress(q.progress);
  focusItem(0);
}

async function showDocument(id, run) {
  state.docId = id;
  $("#review").hidden = false;
  const base = `/api/documents/${id}`;
  $("#dl-json").href = `${base}/result.json`;
  $("#dl-xlsx").href = `${base}/result.xlsx`;
  $("#dl-kpis").href = `${base}/kpis.csv`;
  $("#dl-cells").href = `${base}/cells.csv`;
  for (;;) {
    if (run !== state.run) return;  // a newer load (a new key) took over
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

async function load() {
  const run = state.run = (state.run || 0) + 1;
  if (!store.key) { askForKey(); return; }
  say("");
  const m = location.pathname.match(/^\/review\/(\d+)\/?$/);
  try {
    if (m) await showDocument(parseInt(m[1], 10), run);
    else await showDocuments();
  } catch (e) {
    if (e.status === 401) askForKey(`API key refused: ${e.message}`);
    else say(`Could not load: ${e.message}`);
  }
}

function main() {
  setupSettings();
  for (const a of document.querySelectorAll("#downloads a")) a.addEventListener("click", download);
  showHolder();
  load();
}

main();
