"""The archive's HTML report: one self-contained file (inline SVG charts, no scripts, nothing
fetched) with the state of every document, a confidence histogram, pages/min over each batch run,
the checks that failed most, the documents needing most review, failures with their reasons, and
the batch runs with each worker's peak memory."""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..policy import REVIEW_BELOW
from ..store import Store
from . import svg

BINS = 20


@dataclass
class ReportData:
    below: float = REVIEW_BELOW
    status: Counter = field(default_factory=Counter)
    cell_hist: list[int] = field(default_factory=lambda: [0] * BINS)
    kpi_hist: list[int] = field(default_factory=lambda: [0] * BINS)
    checks_failed: Counter = field(default_factory=Counter)
    checks_total: Counter = field(default_factory=Counter)
    review: list[tuple[str, int, int, float]] = field(default_factory=list)  # name, queue, values, low share
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # name, status, reasons
    totals: Counter = field(default_factory=Counter)

    def add(self, info: Any, doc: Any, rows: dict[str, list[dict]]) -> None:
        self.status[info.status] += 1
        d = rows["documents"][0]
        if doc is None:
            return
        for c in rows["cells"]:
            self.cell_hist[min(BINS - 1, max(0, int(c["confidence"] * BINS)))] += 1
        for k in rows["kpis"]:
            self.kpi_hist[min(BINS - 1, max(0, int(k["confidence"] * BINS)))] += 1
        for ch in doc.checks:
            self.checks_total[ch.name] += 1
            if not ch.ok:
                self.checks_failed[ch.name] += 1
        n_values = (d.get("n_cells") or 0) + (d.get("n_kpis") or 0)
        if d.get("needs_review"):
            self.review.append((info.source_name, int(d["needs_review"]), n_values, d.get("low_confidence_share") or 0.0))
        if info.status in ("failed", "partial") and d.get("failures"):
            self.failures.append((info.source, info.status, "; ".join(d["failures"][:6])
                                  + (f" … ({len(d['failures'])} in all)" if len(d["failures"]) > 6 else "")))
        for key in ("n_pages", "pages_failed", "n_tables", "n_cells", "cells_low_confidence", "n_kpis",
                    "kpis_low_confidence", "checks", "checks_failed", "cells_reviewed", "cells_corrected",
                    "kpis_reviewed", "kpis_corrected", "needs_review"):
            self.totals[key] += int(d.get(key) or 0)


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v))


def _table(head: list[str], rows: list[list[Any]], empty: str = "none") -> str:
    if not rows:
        return f'<p class="muted">{_esc(empty)}</p>'
    out = ["<table><thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _pct(a: int, b: int) -> str:
    return "–" if not b else f"{100.0 * a / b:.1f}%"


def _runs(store: Store) -> tuple[list, dict[int, list], dict[int, dict[str, float]]]:
    runs = store.batch_runs()
    log = store.batch_page_log()
    by_run: dict[int, list] = {}
    mem: dict[int, dict[str, float]] = {}
    for p in log:
        if p.run_id is None:
            continue
        by_run.setdefault(p.run_id, []).append(p)
        if p.worker and p.peak_rss_mb is not None:
            m = mem.setdefault(p.run_id, {})
            m[p.worker] = max(m.get(p.worker, 0.0), p.peak_rss_mb)
    return runs, by_run, mem


def _rate_series(start: datetime, pages: list) -> list[tuple[float, float]]:
    """(minutes since the run started, pages/min in the window ending there)."""
    if not pages:
        return []
    times = sorted((p.finished_at - start).total_seconds() / 60.0 for p in pages)
    span = max(times[-1], 1e-6)
    w = max(1 / 12, span / 20)  # at least 5 s a window, at most 20 windows
    out, i, t = [], 0, w
    while t < span + w:
        n = 0
        while i < len(times) and times[i] <= t:
            n += 1
            i += 1
        out.append((round(t, 3), n / w))
        t += w
    return out


def write_report(store: Store, data: ReportData, path: str | Path) -> Path:
    runs, by_run, mem = _runs(store)
    t = data.totals
    cells, kpis = t["n_cells"], t["n_kpis"]
    edges = [i / BINS for i in range(BINS + 1)]
    conf_svg = svg.histogram(
        "confidence-histogram", "Confidence of cells and KPI records", edges,
        [("cells (% of cells)", [round(100.0 * c / cells, 2) if cells else 0 for c in data.cell_hist]),
         ("KPI records (% of records)", [round(100.0 * c / kpis, 2) if kpis else 0 for c in data.kpi_hist])],
        xlabel="confidence", ylabel="% of values", mark=data.below)
    series = []
    for r in [r for r in runs if by_run.get(r.id)][-6:]:
        pts = _rate_series(r.started_at, by_run[r.id])
        series.append((f"run {r.id} ({r.engine}, {r.stats.get('workers', r.workers) or '?'} workers)", pts))
    rate_svg = svg.lines("pages-per-minute", "Pages per minute over each batch run", series,
                         xlabel="minutes since the run started", ylabel="pages / min")
    checks = [(f"{name} ({n} of {data.checks_total[name]})", n) for name, n in data.checks_failed.most_common(12)]
    checks_svg = svg.hbars("failed-checks", "Checks that failed most", checks, xlabel="failed checks",
                           empty="no check failed")
    review = sorted(data.review, key=lambda r: (-r[1], r[0]))[:15]
    review_svg = svg.hbars("review-needed", "Documents needing most review", [(n, q) for n, q, _, _ in review],
                           xlabel=f"values to review (unreviewed, confidence < {data.below} or a broken check)",
                           empty="nothing waits for review")

    run_rows = []
    for r in reversed(runs):
        pages = by_run.get(r.id, [])
        dur = ((r.finished_at or (pages[-1].finished_at if pages else r.started_at)) - r.started_at).total_seconds()
        rate = f"{60.0 * len(pages) / dur:.1f}" if pages and dur > 0 else "–"
        m = mem.get(r.id, {})
        run_rows.append([r.id, r.engine, r.stats.get("engine", ""), r.state if r.finished_at or r.state != "running"
                         else "running (or killed)", r.started_at.strftime("%Y-%m-%d %H:%M:%S"), f"{dur:.0f} s",
                         len(pages), rate, ", ".join(f"{w}: {v:.0f} MB" for w, v in sorted(m.items())) or "–"])
    st = data.status
    n_docs = sum(st.values())
    summary = [
        ["documents", n_docs],
        ["done / partial (pages failed) / failed / pending",
         f"{st.get('done', 0)} / {st.get('partial', 0)} / {st.get('failed', 0)} / {st.get('pending', 0)}"],
        ["pages (failed)", f"{t['n_pages']} ({t['pages_failed']})"],
        ["tables / cells", f"{t['n_tables']} / {cells}"],
        [f"cells below {data.below}", f"{t['cells_low_confidence']} ({_pct(t['cells_low_confidence'], cells)})"],
        [f"KPI records (below {data.below})", f"{kpis} ({t['kpis_low_confidence']})"],
        ["checks failed", f"{t['checks_failed']} of {t['checks']}"],
        ["reviewed (corrected): cells / KPI records",
         f"{t['cells_reviewed']} ({t['cells_corrected']}) / {t['kpis_reviewed']} ({t['kpis_corrected']})"],
        ["values waiting for review", t["needs_review"]],
    ]
    where = store.engine.url.render_as_string(hide_password=True)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Archive report: {_esc(where)}</title>
<style>
body {{ font-family: system-ui, 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif; margin: 2em auto; max-width: 1320px;
       color: #222; padding: 0 1em; }}
h1 {{ font-size: 1.5em; margin-bottom: 0.2em; }} h2 {{ font-size: 1.15em; margin-top: 1.8em; }}
.muted {{ color: #777; }} table {{ border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }}
td, th {{ border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} .charts {{ display: flex; flex-wrap: wrap; gap: 16px; }}
.charts svg {{ border: 1px solid #eee; background: #fff; }}
</style></head><body>
<h1>Archive report</h1>
<p class="muted">{_esc(where)} · written {now}</p>
<h2>Summary</h2>
{_table(["", ""], summary)}
<h2>Charts</h2>
<div class="charts">
{conf_svg}
{rate_svg}
{checks_svg}
{review_svg}
</div>
<h2>Documents that failed, or have failed pages</h2>
{_table(["document", "status", "why"], [list(f) for f in sorted(data.failures)], "none")}
<h2>Documents needing most review</h2>
{_table(["document", "values to review", "values", "cells below threshold"],
        [[n, q, v, f"{100 * s:.1f}%"] for n, q, v, s in review], "nothing waits for review")}
<h2>Batch runs</h2>
{_table(["run", "engine", "workers", "state", "started (UTC)", "duration", "pages read", "pages/min",
         "peak memory per worker"], run_rows, "no batch runs recorded")}
</body></html>
"""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(page, encoding="utf-8")
    return p
