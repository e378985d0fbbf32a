"""Scoring an extraction against ground truth (the truth.json written by scripts/render_scans.py).

Metrics (all pooled over the pages given):
- tables found: precision / recall / F1, a predicted table matching a true one at IoU >= 0.5;
- grid: share of true cells (empty ones included) whose (row, col, rowspan, colspan) is found,
  both grids first reduced to the boundaries that bound some cell (``canonical``);
- text: share of true non-empty cells whose text is exactly right (after NFKC and removing
  whitespace: full-width and half-width forms of the same character count as the same), the
  predicted cell being the one whose box overlaps the true cell's best (IoU >= 0.5, any table
  on the page; none: wrong);
- numeric: the same over true cells that hold a number ("1,021.29", "39.23%", "≥98%", "0");
- empty: share of true empty cells left empty;
- continuation: share of true cross-page links found;
- prose: character accuracy (1 - edit distance / length) of the page text outside tables, read
  top to bottom, against the true paragraphs;
- KPI records: F1 over (project, period, level1, level2, level3, value), the true records being
  what the record extractor reads from the true grids (so this measures what OCR and structure
  errors cost the records);
- confidence: AUROC of cell confidence for right vs wrong cells, and the expected calibration error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .geometry import iou
from .model import Cell, Document, Page, Paragraph, Table
from .textnorm import normalize

NUMERIC = re.compile(r"^[≥≤<>=＞＜]?[-+]?\d[\d,，.]*%?$")


def norm(s: str) -> str:
    """A text as scored: NFKC (full-width and half-width forms count as one), no white space."""
    return normalize(s, nfkc=True)


def prose_norm(s: str) -> str:
    """norm(), and leader dots (a table of contents' "......") dropped: they carry no content."""
    return re.sub(r"[.…·]{2,}", "", norm(s))


def is_numeric(s: str) -> bool:
    return bool(NUMERIC.match(norm(s)))


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    cells: int = 0
    grid_ok: int = 0
    text_cells: int = 0
    text_ok: int = 0
    num_cells: int = 0
    num_ok: int = 0
    empty_cells: int = 0
    empty_ok: int = 0
    links: int = 0
    links_ok: int = 0
    links_false: int = 0  # predicted links where the truth has none
    kpi_tp: int = 0
    kpi_fp: int = 0
    kpi_fn: int = 0
    prose_chars: int = 0
    prose_edits: int = 0
    teds_sum: float = 0.0  # TEDS summed over true tables (0 for a table not found)
    teds_n: int = 0
    conf: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, right) per true cell
    errors: list[tuple[int, int, int, str, str]] = field(default_factory=list)  # page, row, col, truth, got
    kpi_conf: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, right) per extracted record
    scored: list[tuple[str, Cell, bool]] = field(default_factory=list)  # (table id, cell, right) per matched true cell

    def add(self, o: "Score") -> "Score":
        for k in ("tp", "fp", "fn", "cells", "grid_ok", "text_cells", "text_ok", "num_cells", "num_ok",
                  "empty_cells", "empty_ok", "links", "links_ok", "links_false", "kpi_tp", "kpi_fp", "kpi_fn", "prose_chars", "prose_edits",
                  "teds_sum", "teds_n"):
            setattr(self, k, getattr(self, k) + getattr(o, k))
        self.conf += o.conf
        self.errors += o.errors
        self.scored += o.scored
        self.kpi_conf += o.kpi_conf
        return self

    @staticmethod
    def _r(a: int, b: int) -> float:
        return a / b if b else 1.0

    def summary(self) -> dict:
        p = self._r(self.tp, self.tp + self.fp)
        r = self._r(self.tp, self.tp + self.fn)
        return {
            "tables_precision": p, "tables_recall": r,
            "tables_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "grid": self._r(self.grid_ok, self.cells),
            "teds": self.teds_sum / self.teds_n if self.teds_n else 1.0,
            "text": self._r(self.text_ok, self.text_cells),
            "numeric": self._r(self.num_ok, self.num_cells),
            "empty": self._r(self.empty_ok, self.empty_cells),
            "continuation": self._r(self.links_ok, self.links),
            "false_links": self.links_false,
            "prose": 1.0 - self._r(self.prose_edits, self.prose_chars) if self.prose_chars else 1.0,
            "kpi_f1": (2 * self.kpi_tp / (2 * self.kpi_tp + self.kpi_fp + self.kpi_fn)
                       if self.kpi_tp + self.kpi_fp + self.kpi_fn else 1.0),
            "auroc": auroc(self.conf), "ece": ece(self.conf),
            "wrong_below_0.9": (sum(c < 0.9 for c, ok in self.conf if not ok) / sum(not ok for _, ok in self.conf)
                                if any(not ok for _, ok in self.conf) else float("nan")),
            "kpi_ece": ece(self.kpi_conf) if self.kpi_conf else float("nan"),
            "n_tables": self.tp + self.fn, "n_cells": self.cells, "n_text_cells": self.text_cells,
        }


def canonical(cells: list[tuple[int, int, int, int]]) -> dict[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Map (row, col, rowspan, colspan) to the same cell on the grid with every row/column
    boundary that bounds no cell removed: two grids that cut the table into the same cells compare
    equal even if one carries boundaries that are drawn nowhere (a page fragment of a wider grid)."""
    rows = sorted({c[0] for c in cells} | {c[0] + c[2] for c in cells})
    cols = sorted({c[1] for c in cells} | {c[1] + c[3] for c in cells})
    ri = {v: i for i, v in enumerate(rows)}
    ci = {v: i for i, v in enumerate(cols)}
    return {c: (ri[c[0]], ci[c[1]], ri[c[0] + c[2]] - ri[c[0]], ci[c[1] + c[3]] - ci[c[1]]) for c in cells}


def auroc(pairs: list[tuple[float, bool]]) -> float:
    """Probability that a right cell is scored above a wrong one (ties count half)."""
    pos = sorted(c for c, ok in pairs if ok)
    neg = sorted(c for c, ok in pairs if not ok)
    if not pos or not neg:
        return float("nan")
    import bisect

    wins = 0.0
    for c in neg:
        lo = bisect.bisect_left(pos, c)
        hi = bisect.bisect_right(pos, c)
        wins += (len(pos) - hi) + 0.5 * (hi - lo)
    return wins / (len(pos) * len(neg))


def ece(pairs: list[tuple[float, bool]], bins: int = 10) -> float:
    if not pairs:
        return float("nan")
    tot = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = [(c, ok) for c, ok in pairs if (lo <= c < hi) or (b == bins - 1 and c == 1.0)]
        if sel:
            tot += len(sel) * abs(sum(c for c, _ in sel) / len(sel) - sum(ok for _, ok in sel) / len(sel))
    return tot / len(pairs)


def _truth_col_edges(t: dict) -> list[float]:
    """The n_cols + 1 column boundaries of a true table, indexed as its cells' columns: a boundary
    that bounds no cell of this fragment (a page fragment of a block whose other band, on the
    page before, had it) is placed between its neighbours."""
    n = t["n_cols"]
    at: dict[int, list[float]] = {}
    for c in t["cells"]:
        at.setdefault(c["col"], []).append(c["bbox"][0])
        at.setdefault(c["col"] + c["colspan"], []).append(c["bbox"][2])
    known = {k: sum(v) / len(v) for k, v in at.items()}
    ks = sorted(known)
    out = []
    for k in range(n + 1):
        if k in known:
            out.append(float(known[k]))
            continue
        lo = max((j for j in ks if j < k), default=ks[0])
        hi = min((j for j in ks if j > k), default=ks[-1])
        f = (k - lo) / (hi - lo) if hi != lo else 0.0
        out.append(float(known[lo] + f * (known[hi] - known[lo])))
    return out


def document_from_truth(truth: dict) -> Document:
    """The Document a perfect extraction of a rendered scan would give (tables, paragraphs),
    with the semantic stages run on it."""
    from .kpi import records
    from .kpi.tables import annotate_tables

    pages = []
    for tp in truth["pages"]:
        tables = []
        for i, t in enumerate(tp["tables"]):
            cells = [Cell(row=c["row"], col=c["col"], rowspan=c["rowspan"], colspan=c["colspan"], bbox=c["bbox"],
                          text=c["text"], confidence=1.0) for c in t["cells"]]
            cols = _truth_col_edges(t)
            cf = t.get("continued_from")
            tables.append(Table(id=f"p{tp['page']}-t{i}", bbox=t["bbox"], n_rows=t["n_rows"], n_cols=t["n_cols"],
                                cells=cells, col_edges=cols, continued_from=f"p{cf[0]}-t{cf[1]}" if cf else None))
        paras = [Paragraph(bbox=p["bbox"], text=p["text"], confidence=1.0) for p in tp.get("paragraphs", [])]
        pages.append(Page(page=tp["page"], width=tp["width"], height=tp["height"], tables=tables, paragraphs=paras))
    doc = Document(source=truth.get("source", ""), n_pages=len(pages), pages=pages)
    by_id = {t.id: t for t in doc.tables()}
    for t in doc.tables():
        if t.continued_from in by_id:
            by_id[t.continued_from].continues_to = t.id
    annotate_tables(doc)
    records.extract(doc)
    return doc


def _kpi_key(k) -> tuple:
    return tuple(norm(v) for v in (k.project, k.period, k.level1, k.level2, k.level3, k.value))


CELL_IOU = 0.5


def _box_matcher(tables: list[Table]):
    """A function from a true cell's box to (the predicted cell whose box overlaps it best, at IoU
    >= CELL_IOU, its table) or (None, None): cells are matched by where they are on the page, so a
    table cut into other tables, or rows numbered otherwise, costs nothing when the cells are
    right."""
    import numpy as np

    cells = [(c, t) for t in tables for c in t.cells]
    if not cells:
        return lambda box: (None, None)
    b = np.array([c.bbox for c, _ in cells], float)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)

    def match(box):
        x0, y0, x1, y1 = (float(v) for v in box)
        iw = np.clip(np.minimum(b[:, 2], x1) - np.maximum(b[:, 0], x0), 0, None)
        ih = np.clip(np.minimum(b[:, 3], y1) - np.maximum(b[:, 1], y0), 0, None)
        inter = iw * ih
        u = area_b + max(x1 - x0, 0) * max(y1 - y0, 0) - inter
        v = np.where(u > 0, inter / np.maximum(u, 1e-9), 0.0)
        k = int(np.argmax(v))
        return cells[k] if v[k] >= CELL_IOU else (None, None)

    return match


def score_document(doc: Document, truth: dict) -> Score:
    total = Score()
    pred_pages = {p.page: p for p in doc.pages}
    match_ids: dict[tuple[int, int], str] = {}  # (page, true table index) -> predicted table id
    pending_links = []
    for tp in truth["pages"]:
        page = pred_pages.get(tp["page"])
        if page is None:
            continue
        s = Score()
        preds = list(page.tables)
        used: set[int] = set()
        pairs = sorted(((iou(t["bbox"], p.bbox), ti, pi) for ti, t in enumerate(tp["tables"]) for pi, p in enumerate(preds)),
                       reverse=True)
        matched: dict[int, int] = {}
        for v, ti, pi in pairs:
            if v < 0.5 or ti in matched or pi in used:
                continue
            matched[ti] = pi
            used.add(pi)
        box_match = _box_matcher(preds)
        s.tp = len(matched)
        s.fn = len(tp["tables"]) - len(matched)
        s.fp = len(preds) - len(used)
        for ti, t in enumerate(tp["tables"]):
            pt = preds[matched[ti]] if ti in matched else None
            if pt is not None:
                match_ids[(tp["page"], ti)] = pt.id
            if t.get("continued_from") is not None:
                pending_links.append((tp["page"], ti, tuple(t["continued_from"]), pt))
            elif pt is not None and pt.continued_from is not None:
                s.links_false += 1
            by_pos = {}
            if pt is not None:
                pmap = canonical([(c.row, c.col, c.rowspan, c.colspan) for c in pt.cells])
                by_pos = {pmap[(c.row, c.col, c.rowspan, c.colspan)][:2]: (c, pmap[(c.row, c.col, c.rowspan, c.colspan)])
                          for c in pt.cells}
            tmap = canonical([(c["row"], c["col"], c["rowspan"], c["colspan"]) for c in t["cells"]])
            s.teds_n += 1
            if pt is not None:
                s.teds_sum += teds([(c.row, c.col, c.rowspan, c.colspan, c.text) for c in pt.cells],
                                   [(c["row"], c["col"], c["rowspan"], c["colspan"], c["text"]) for c in t["cells"]])
            for c in t["cells"]:
                s.cells += 1
                key = tmap[(c["row"], c["col"], c["rowspan"], c["colspan"])]
                got, gkey = by_pos.get(key[:2], (None, None))
                if got is not None and gkey == key:
                    s.grid_ok += 1
                # text and confidence are scored on the cell found at the true cell's box
                got, owner = box_match(c["bbox"])
                truth_text = norm(c["text"])
                got_text = norm(got.text) if got is not None else None
                ok = got_text == truth_text
                if truth_text:
                    s.text_cells += 1
                    s.text_ok += ok
                    if is_numeric(c["text"]):
                        s.num_cells += 1
                        s.num_ok += ok
                    if not ok:
                        s.errors.append((tp["page"], c["row"], c["col"], c["text"], got.text if got else "<no cell>"))
                else:
                    s.empty_cells += 1
                    s.empty_ok += ok
                if got is not None:
                    s.conf.append((got.confidence, ok))
                    s.scored.append((owner.id, got, ok))
        tparas = sorted(tp.get("paragraphs", []), key=lambda p: (p["bbox"][1], p["bbox"][0]))
        truth_prose = prose_norm("".join(p["text"] for p in tparas))
        got_prose = prose_norm("".join(p.text for p in page.paragraphs))
        if truth_prose:
            from rapidfuzz.distance import Levenshtein

            s.prose_chars = len(truth_prose)
            s.prose_edits = min(len(truth_prose), Levenshtein.distance(truth_prose, got_prose))
        total.add(s)
    from collections import Counter

    want = Counter(_kpi_key(k) for k in document_from_truth(truth).kpis)
    got = Counter(_kpi_key(k) for k in doc.kpis)
    total.kpi_tp = sum((want & got).values())
    total.kpi_fp = sum((got - want).values())
    total.kpi_fn = sum((want - got).values())
    left = Counter(want)
    for k in doc.kpis:
        key = _kpi_key(k)
        total.kpi_conf.append((k.confidence, left[key] > 0))
        left[key] -= 1
    for page_no, ti, (src_page, src_idx), pt in pending_links:
        total.links += 1
        want = match_ids.get((src_page, src_idx))
        if pt is not None and want is not None and pt.continued_from == want:
            total.links_ok += 1
    return total


# ------------------------------------------------------------------ TEDS
class _Node:
    __slots__ = ("tag", "span", "text", "children")

    def __init__(self, tag: str, span: tuple = (), text: str = "", children: Optional[list] = None):
        self.tag, self.span, self.text, self.children = tag, span, text, children or []


def _tree(cells: list[tuple[int, int, int, int, str]]) -> "_Node":
    """table -> tr per row -> td (rowspan, colspan, text) in column order, as in PubTabNet's TEDS."""
    cmap = canonical([c[:4] for c in cells])  # the same cutting of the table compares equal
    rows: dict[int, list] = {}
    for cell in cells:
        r, c, rs, cs = cmap[cell[:4]]
        text = cell[4]
        rows.setdefault(r, []).append((c, rs, cs, text))
    trs = [_Node("tr", children=[_Node("td", (rs, cs), norm(text)) for c, rs, cs, text in sorted(rows[r])])
           for r in sorted(rows)]
    return _Node("table", children=trs)


def _seq_edit(a: list, b: list, sub) -> float:
    """Edit distance of two sequences with unit insert/delete costs and ``sub(x, y)`` as the cost
    of matching x with y."""
    prev = [float(j) for j in range(len(b) + 1)]
    for i, x in enumerate(a, 1):
        cur = [float(i)] + [0.0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub(x, y))
        prev = cur
    return prev[-1]


def teds(pred: list[tuple[int, int, int, int, str]], truth: list[tuple[int, int, int, int, str]],
         structure_only: bool = False, exact: bool = False) -> float:
    """Tree-edit-distance similarity of two tables given as (row, col, rowspan, colspan, text) cells
    (Zhong et al. 2020, PubTabNet): 1 - edit distance / the larger tree's node count, over the tree
    table -> tr -> td. A td renamed to one with other spans costs 1, to one with the same spans the
    normalised Levenshtein distance of the texts.

    The distance is computed top-down (rows aligned to rows, then cells to cells within matched
    rows): exact for every edit script that keeps the tr level, which is all that tables need, and
    fast on 500-cell tables. ``exact=True`` runs the general tree edit distance (APTED, slow)."""
    from rapidfuzz.distance import Levenshtein

    ta, tb = _tree(pred), _tree(truth)
    n = max(1 + sum(1 + len(r.children) for r in ta.children), 1 + sum(1 + len(r.children) for r in tb.children))

    def td_cost(a: _Node, b: _Node) -> float:
        if a.span != b.span:
            return 1.0
        return 0.0 if structure_only else Levenshtein.normalized_distance(a.text, b.text)

    if exact:
        from apted import APTED, Config

        class _Cfg(Config):
            def rename(self, a, b):
                if a.tag != b.tag:
                    return 1.0
                return td_cost(a, b) if a.tag == "td" else 0.0

            def children(self, node):
                return node.children

        return 1.0 - APTED(ta, tb, _Cfg()).compute_edit_distance() / n

    prev = [0.0]
    for r in tb.children:
        prev.append(prev[-1] + 1 + len(r.children))
    for ra in ta.children:
        cur = [prev[0] + 1 + len(ra.children)]
        for j, rb in enumerate(tb.children, 1):
            cur.append(min(prev[j] + 1 + len(ra.children), cur[j - 1] + 1 + len(rb.children),
                           prev[j - 1] + _seq_edit(ra.children, rb.children, td_cost)))
        prev = cur
    return 1.0 - prev[-1] / n
