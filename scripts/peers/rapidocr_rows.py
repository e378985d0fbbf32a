"""Peer "rapidocr-rows": whole-page RapidOCR, then rows and columns grouped from box positions,
the table a user would script in an afternoon. No ruling lines, no table model:

1. OCR the page (RapidOCR 3.10, PP-OCRv6 small, ch); deskew the boxes by the median slope of long
   lines (rotation about the page centre, as a scanner skews);
2. rows: box y-centres clustered greedily (a box joins the row whose mean centre is within 0.6
   of a median line height);
3. tables: runs of rows holding at least two boxes; one-box rows inside a run are kept when their
   box is narrow (a label with empty amounts) and a fuller row follows; a wide one-box row (prose),
   a 'key：value' line (部门名称：… 单位：万元) or a vertical gap of more than one line height ends
   the table; runs of fewer than 2 rows are dropped;
4. columns: the union of the x-extents of the boxes of the fuller rows of the table (rows holding
   at least half the most boxes any row holds), so a header box spanning two columns does not fuse
   them; neighbouring bands that no row fills both of are merged (a centred header over
   left-aligned names); every box is then put in the columns it overlaps (several: a colspan);
5. every grid slot no box reaches is an empty cell; no row spans, a wrapped cell becomes two rows.

Cell confidence: the lowest RapidOCR line score of the boxes in the cell.
"""
from __future__ import annotations

import time

import numpy as np

from extractor.model import Page

from .base import Peer, TextBox, fill_grid, join_text, make_cell, make_table, rapidocr_engine, to_bgr
from .geometry import rotation_matrix, skew_from_quads, transform_quads


def page_boxes(engine, image: np.ndarray, deskew: bool = True) -> tuple[list[TextBox], float]:
    """OCR boxes in the deskewed frame, and the angle used."""
    res = engine(to_bgr(image))
    if res.boxes is None or res.txts is None:
        return [], 0.0
    quads = [np.asarray(b, dtype=float).reshape(-1, 2) for b in res.boxes]
    angle = skew_from_quads(quads) if deskew else 0.0
    h, w = image.shape[:2]
    m = rotation_matrix(w, h, angle) if abs(angle) >= 0.1 else None
    quads = transform_quads(quads, m)
    out = []
    for q, txt, sc in zip(quads, res.txts, res.scores):
        if str(txt).strip():
            out.append(TextBox(float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()),
                               str(txt), float(sc)))
    return out, angle


def group_rows(boxes: list[TextBox], line_h: float, tol: float = 0.6) -> list[list[TextBox]]:
    rows: list[list[TextBox]] = []
    means: list[float] = []
    for b in sorted(boxes, key=lambda b: b.cy):
        if rows and abs(b.cy - means[-1]) <= tol * line_h:
            rows[-1].append(b)
            means[-1] = float(np.mean([x.cy for x in rows[-1]]))
        else:
            rows.append([b])
            means.append(b.cy)
    return [sorted(r, key=lambda b: b.x0) for r in rows]


def is_field_line(row: list[TextBox]) -> bool:
    """'部门名称：…   单位：万元': every box a 'key：value' field, a line above a table, not a row of it."""
    return all(("：" in b.text or ":" in b.text) and not b.text.rstrip().endswith(("：", ":")) for b in row)


def split_tables(rows: list[list[TextBox]], line_h: float, page_w: float,
                 max_gap: float = 1.0, narrow: float = 0.45) -> list[list[list[TextBox]]]:
    tables: list[list[list[TextBox]]] = []
    cur: list[list[TextBox]] = []
    pending: list[list[TextBox]] = []  # one-box rows kept only if the table goes on after them

    def close():
        nonlocal cur, pending
        if len(cur) >= 2:
            tables.append(cur)
        cur, pending = [], []

    for r in rows:
        last = (pending or cur)[-1] if (pending or cur) else None
        if last is not None and min(b.y0 for b in r) - max(b.y1 for b in last) > max_gap * line_h:
            close()
        if len(r) >= 2 and not is_field_line(r):
            cur += pending + [r]
            pending = []
        elif cur and len(r) == 1 and (r[0].x1 - r[0].x0) < narrow * page_w:
            pending.append(r)
        else:
            close()
    close()
    return tables


def column_bands(rows: list[list[TextBox]], line_h: float) -> list[tuple[float, float]]:
    most = max(len(r) for r in rows)
    full = [b for r in rows if len(r) >= max(2, most / 2) for b in r] or [b for r in rows for b in r]
    bands: list[list[float]] = []
    for b in sorted(full, key=lambda b: b.x0):
        if bands and b.x0 <= bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], b.x1)
        else:
            bands.append([b.x0, b.x1])
    # two neighbouring bands no row fills both of are one column whose texts are aligned
    # differently (a centred header over left-aligned names): merge them, closest first
    def used(band):
        return {i for i, r in enumerate(rows) for b in r if min(b.x1, band[1]) - max(b.x0, band[0]) > 0}

    while len(bands) > 1:
        pairs = [(bands[k + 1][0] - bands[k][1], k) for k in range(len(bands) - 1)
                 if not (used(bands[k]) & used(bands[k + 1]))]
        if not pairs:
            break
        _, k = min(pairs)
        bands[k:k + 2] = [[bands[k][0], max(bands[k][1], bands[k + 1][1])]]
    return [(a, b) for a, b in bands]


def box_columns(b: TextBox, edges: list[float]) -> tuple[int, int]:
    """First and last column (between ``edges``) the box overlaps substantially."""
    n = len(edges) - 1
    hit = []
    for k in range(n):
        ov = min(b.x1, edges[k + 1]) - max(b.x0, edges[k])
        if ov > 0 and (ov >= 0.4 * (edges[k + 1] - edges[k]) or ov >= 0.4 * (b.x1 - b.x0)):
            hit.append(k)
    if not hit:  # in a gap: nearest column by centre
        k = int(np.argmin([abs(b.cx - (edges[k] + edges[k + 1]) / 2) for k in range(n)]))
        return k, k
    return hit[0], hit[-1]


def build_table(rows: list[list[TextBox]], line_h: float, page_no: int, index: int):
    bands = column_bands(rows, line_h)
    pad = 0.5 * line_h
    x0 = min(b.x0 for r in rows for b in r) - pad
    x1 = max(b.x1 for r in rows for b in r) + pad
    edges = [x0] + [(bands[k][1] + bands[k + 1][0]) / 2 for k in range(len(bands) - 1)] + [x1]
    tops = [min(b.y0 for b in r) for r in rows]
    bots = [max(b.y1 for b in r) for r in rows]
    row_y = [tops[0] - pad] + [(bots[i] + tops[i + 1]) / 2 for i in range(len(rows) - 1)] + [bots[-1] + pad]
    cells = []
    for ri, r in enumerate(rows):
        groups: list[list] = []  # [c0, c1, boxes]
        for b in r:
            c0, c1 = box_columns(b, edges)
            if groups and c0 <= groups[-1][1]:
                groups[-1][1] = max(groups[-1][1], c1)
                groups[-1][2].append(b)
            else:
                groups.append([c0, c1, [b]])
        for c0, c1, bs in groups:
            cells.append(make_cell(ri, c0, 1, c1 - c0 + 1, [edges[c0], row_y[ri], edges[c1 + 1], row_y[ri + 1]],
                                   join_text(bs), [b.score for b in bs], source="text"))
    cells = fill_grid(cells, len(rows), len(bands), row_y, edges)
    return make_table(page_no, index, [x0, row_y[0], x1, row_y[-1]], cells, source="text")


class RapidOcrRows(Peer):
    name = "rapidocr-rows"
    description = "RapidOCR 3.10 whole page; rows and columns clustered from box positions"
    table_source = "text"

    def __init__(self, threads: int = 0, deskew: bool = True):
        self.engine = rapidocr_engine(threads)
        self.deskew = deskew

    def extract_page(self, image: np.ndarray, page_no: int) -> Page:
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        boxes, angle = page_boxes(self.engine, image, self.deskew)
        tables = []
        if boxes:
            line_h = float(np.median([b.h for b in boxes]))
            rows = group_rows(boxes, line_h)
            for i, tr in enumerate(split_tables(rows, line_h, w)):
                tables.append(build_table(tr, line_h, page_no, i))
        return Page(page=page_no, width=w, height=h, tables=tables, seconds=time.perf_counter() - t0)
