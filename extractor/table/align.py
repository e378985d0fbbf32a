"""Table structure from text alignment, for tables whose rulings are faded or were never drawn
(borderless tables, 三线表, old photocopies).

Input: the page's text-line boxes (from text detection) and, optionally, the page image (to tell a
header that spans columns from two cells whose texts the detector ran together). Output: a
``GridTable`` with ``source="text"`` in page pixels, like a ruled grid, so every later stage reads
it the same way.

- **Rows**: boxes grouped by vertical overlap; a row that sits tight under the one above it (closer
  than the rows' usual spacing) and holds text only in columns the row above also holds is a wrapped
  line of the same cells, and is joined to it.
- **Columns**: the x positions that (nearly) no row covers with text, at least a character wide
  (half of one where no row crosses the gap at all: the texts of narrow columns of wrapped labels
  fill them to a padding of the rules), respected by several rows with text on both sides. A spanning header or a title row may cross a
  separator (up to ~10 % of the rows); a box that crosses one is a spanning cell only where the
  image shows ink across the separator (a real spanning text), not where it shows a blank gap (two
  cells the detector merged: they are read apart, from their own crops).
- **Edges**: a separator sits a padding away from the text it follows when that column's text is
  right-aligned (numbers), or before the text it precedes when left-aligned, else mid-gap; the outer
  edges are the text's extent plus the same padding, so the boxes match where the rules would be.
- **Table evidence** (``is_table``): at least two columns and two rows, most rows holding text in
  two or more columns, and most cells holding text; titles, prose and diagram labels have none.
- **Regions** (``text_table_regions``): runs of rows whose text falls into the same columns, found
  on the page without the layout model; the layout model's table regions are used as well.
- **Forms** (``merge_stacked``, ``extend_up``): the parts of one form stacked on a page are one
  table, and the form rows right above a grid (a label in the first column, texts right of it)
  join it; such rows become a label cell and one cell per text that stands apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .grid import GridCell, GridTable

Box = tuple[float, float, float, float]

# a line above or below a table that names its unit or department: not a table row
META_LINE = re.compile(r"^\s*(部门|单位|编制单位|预算单位|填报单位|金额单位|报送单位)\s*(名称)?\s*[:：]|单位\s*[:：]\s*(万?元|亿元|千元)")
# a table's title: it names a table (…表, …明细, …情况), with an optional year or unit in brackets after
TABLE_TITLE = re.compile(r"(表|明细|情况|一览)\s*([(（][^()（）]{0,12}[)）])?\s*$")
SPAN_COVER = 0.12  # share of rows that may cross a column separator (spanning headers, titles)


@dataclass
class Line:
    bbox: Box
    text: str = ""


def _rows(lines: Sequence[Line]) -> list[list[int]]:
    """Indices of ``lines`` grouped into rows by vertical overlap, top to bottom, each left to right."""
    order = sorted(range(len(lines)), key=lambda i: (lines[i].bbox[1] + lines[i].bbox[3]) / 2)
    rows: list[list[int]] = []
    spans: list[list[float]] = []
    for i in order:
        y0, y1 = lines[i].bbox[1], lines[i].bbox[3]
        if spans:
            a, b = spans[-1]
            if min(b, y1) - max(a, y0) >= 0.5 * min(b - a, y1 - y0):
                rows[-1].append(i)
                spans[-1] = [min(a, y0), max(b, y1)]
                continue
        rows.append([i])
        spans.append([y0, y1])
    return [sorted(r, key=lambda i: lines[i].bbox[0]) for r in rows]


NUMBER = re.compile(r"^[-−+(（]?[\d,，.．]*\d[)）%]?$")
# a figure as a body row holds one: an amount, or a KPI target (≥95%, ≤42人, 175人次, 2021年12月)
FIGURE = re.compile(r"^[≥≤<>＜＞=]?[-−+(（]?[\d,，.．]*\d[)）]?(%|％|万?元|人次|[个次人期件项天年月日台辆份场篇户家所名套册批]|年\d{1,2}月)?$")
BOX_TO_CHAR = 0.6  # a detected text box is ~1.6 times as tall as its characters (the detector pads it)


def _text_height(lines: Sequence[Line]) -> float:
    """The characters' height: the detected boxes' median height, less the detector's padding."""
    return BOX_TO_CHAR * float(np.median([ln.bbox[3] - ln.bbox[1] for ln in lines])) if lines else 12.0


def _body(lines: Sequence[Line], rows: list[list[int]]) -> list[list[int]]:
    """The rows from the first that holds a figure on: a header band above them may span columns
    freely. All rows when no row holds one (a table of words)."""
    for k, r in enumerate(rows):
        if any(FIGURE.match((lines[i].text or "").replace(" ", "")) for i in r) and k < len(rows) - 1:
            return rows[k:]
    return rows


SENTENCE = re.compile(r"[，,。；;]")


def is_sentence(text: str) -> bool:
    """Text that reads as a sentence (a form's long text), not a cell's label or figure."""
    t = (text or "").strip()
    return len(t) >= 8 and bool(SENTENCE.search(t[1:-1] if len(t) > 2 else t)) or len(t) >= 8 and t.endswith("。")


def _separators(lines: Sequence[Line], rows: list[list[int]], h: float) -> list[tuple[float, float]]:
    """Column gaps (x0, x1): runs of x that at most SPAN_COVER of the rows cover with text, at
    least ~0.8 text heights wide, with text on both sides in at least two rows (or a third of
    the rows with two or more boxes)."""
    B = np.array([ln.bbox for ln in lines], dtype=float)
    lo, hi = int(np.floor(B[:, 0].min())), int(np.ceil(B[:, 2].max())) + 1
    cov = np.zeros(hi - lo + 1, dtype=np.int32)
    all_rows, rows = rows, _body(lines, rows)
    for r in rows:
        m = np.zeros(hi - lo + 1, dtype=bool)
        for i in r:
            m[int(B[i, 0]) - lo:int(np.ceil(B[i, 2])) - lo] = True
        cov += m
    multi = [r for r in rows if len(r) >= 2]
    limit = int(SPAN_COVER * len(rows))

    free = cov <= limit
    out = []
    d = np.diff(np.r_[0, free.astype(np.int8), 0])
    for s, e in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        x0, x1 = lo + s, lo + e
        if s == 0 or e >= len(cov):
            continue
        z = np.diff(np.r_[0, (cov[s:e] == 0).astype(np.int8), 0])
        zero = max((b - a for a, b in zip(np.flatnonzero(z == 1), np.flatnonzero(z == -1))), default=0)
        # a gap that no row crosses at all needs only two paddings' width: the texts of narrow
        # columns of wrapped labels (一级指标 | 二级指标) fill them to a padding of the rules
        clean = zero == x1 - x0 and zero >= max(4.0, 0.5 * h)
        if not clean and zero < max(4.0, 0.8 * h) and (x1 - x0 < 1.5 * h or zero == 0 and x1 - x0 < 2.5 * h):
            continue  # too narrow for a column gap (a row or two crossing it need a wider one)
        both = sum(1 for r in multi if any(B[i, 2] <= x0 + 1 for i in r) and any(B[i, 0] >= x1 - 1 for i in r))
        if both >= max(2, len(multi) // 3):
            out.append((float(x0), float(x1)))
    # columns that only the header band fills (no figures under them yet): the gaps between header
    # boxes where no body row has text
    if len(rows) < len(all_rows):
        head = [i for r in all_rows[:len(all_rows) - len(rows)] for i in r]
        hcov = np.zeros_like(cov)
        for i in head:
            hcov[int(B[i, 0]) - lo:int(np.ceil(B[i, 2])) - lo] += 1
        body_free = cov == 0
        z = np.diff(np.r_[0, ((hcov == 0) & body_free).astype(np.int8), 0])
        for s, e in zip(np.flatnonzero(z == 1), np.flatnonzero(z == -1)):
            x0, x1 = lo + s, lo + e
            if s == 0 or e >= len(cov) or x1 - x0 < max(4.0, 0.5 * h):
                continue
            if any(a <= x0 + 1 and x1 - 1 <= b for a, b in out) or any(a < x1 and b > x0 for a, b in out):
                continue
            left = any(B[i, 2] <= x0 + 1 and B[i, 2] > x0 - 3 * h for i in head)
            right = any(B[i, 0] >= x1 - 1 and B[i, 0] < x1 + 3 * h for i in head)
            if left and right:
                out.append((float(x0), float(x1)))
        out.sort()
    return out


def split_at_gaps(lines: Sequence[Line], gray: Optional[np.ndarray], min_gap: float = 0.7) -> list[Line]:
    """Each text box cut where the image shows a blank run wider than ``min_gap`` character heights
    (the detector runs two cells' texts together when their columns stand close). The text is
    shared out by its spaces when their number fits, else by the pieces' widths."""
    if gray is None:
        return list(lines)
    H, W = gray.shape
    out: list[Line] = []
    for ln in lines:
        x0, y0, x1, y1 = (int(round(v)) for v in ln.bbox)
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
        ch = BOX_TO_CHAR * (y1 - y0)
        if x1 - x0 < 2 or y1 <= y0:
            out.append(ln)
            continue
        sub = gray[y0:y1, x0:x1]
        bg = float(np.percentile(sub, 90))
        ink = (sub < bg - max(40.0, 0.35 * (bg - float(sub.min())))).sum(axis=0) > 0
        blank = ~ink
        d = np.diff(np.r_[0, blank.astype(np.int8), 0])
        cuts = [(a, b) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))
                if a > 0 and b < len(blank) and b - a >= min_gap * ch]
        cols = np.flatnonzero(ink)
        if not len(cols):
            out.append(ln)
            continue
        # the detector pads its boxes: the ink's own extent is what lines up with the other rows
        xs = [int(cols[0])] + [v for a, b in cuts for v in (a, b)] + [int(cols[-1]) + 1]
        pieces = [(xs[k], xs[k + 1]) for k in range(0, len(xs), 2)]
        words = (ln.text or "").split() if len(pieces) > 1 else [ln.text or ""]
        if len(words) != len(pieces):
            chars = (ln.text or "").replace(" ", "")
            widths = np.array([b - a for a, b in pieces], dtype=float)
            ends = np.round(np.cumsum(widths) / widths.sum() * len(chars)).astype(int)
            words = [chars[a:b] for a, b in zip(np.r_[0, ends[:-1]], ends)]
        for (a, b), w in zip(pieces, words):
            out.append(Line((float(x0 + a), ln.bbox[1], float(x0 + b), ln.bbox[3]), w))
    return out


def _ink_across(gray: Optional[np.ndarray], x: float, y0: float, y1: float, h: float) -> bool:
    """Does text run through x between y0 and y1 (a spanning header), or is there a blank gap?"""
    if gray is None:
        return True
    H, W = gray.shape
    a, b = int(max(0, x - 0.25 * h)), int(min(W, x + 0.25 * h + 1))
    ya, yb = int(max(0, y0)), int(min(H, y1))
    if b <= a or yb <= ya:
        return False
    strip = gray[ya:yb, a:b]
    around = gray[ya:yb, max(0, a - int(2 * h)):min(W, b + int(2 * h))]
    bg = float(np.percentile(around, 90))
    # ink as split_at_gaps sees it: darker than the paper by a share of the text's own contrast
    # (a faint scan's strokes may be only ~50 levels below its paper)
    return bool((strip < bg - max(40.0, 0.35 * (bg - float(around.min())))).sum(axis=0).max(initial=0) >= 2)


def table_from_lines(lines: Sequence[Line], gray: Optional[np.ndarray] = None) -> Optional[GridTable]:
    """The grid of an unruled table from the text lines inside it (see the module docstring), or
    None when they show no table. Meta lines (部门名称：…, 单位：万元) at its top or bottom are left out."""
    lines = split_at_gaps([ln for ln in lines if ln.bbox[2] > ln.bbox[0] and ln.bbox[3] > ln.bbox[1]], gray)
    if len(lines) < 4:
        return None
    h = _text_height(lines)
    rows = _rows(lines)
    while rows and all(META_LINE.search(lines[i].text or "") for i in rows[0][-1:]) and \
            any(META_LINE.search(lines[i].text or "") for i in rows[0]):
        rows = rows[1:]
    while rows and any(META_LINE.search(lines[i].text or "") for i in rows[-1]):
        rows = rows[:-1]
    if len(rows) < 2:
        return None
    lines = [lines[i] for r in rows for i in r]
    rows = _rows(lines)
    seps = _separators(lines, rows, h)
    if not seps:
        return None
    B = np.array([ln.bbox for ln in lines], dtype=float)
    n_cols = len(seps) + 1
    # column of each box edge: which slot its left and right ends fall in
    mids = np.array([(a + b) / 2 for a, b in seps])
    col_lo = np.searchsorted(mids, B[:, 0] + 0.01 * h)
    col_hi = np.searchsorted(mids, B[:, 2] - 0.01 * h)
    # ---- wrapped lines: a row tight under the previous, in columns that row holds, joins it
    tops = [min(B[i, 1] for i in r) for r in rows]
    bots = [max(B[i, 3] for i in r) for r in rows]
    gaps = [tops[k + 1] - bots[k] for k in range(len(rows) - 1)]
    typical = float(np.median(gaps)) if gaps else h
    merged: list[list[int]] = [rows[0]]
    for k in range(1, len(rows)):
        prev = merged[-1]
        held = set()
        for i in prev:
            held.update(range(col_lo[i], col_hi[i] + 1))
        gap = tops[k] - max(B[i, 3] for i in prev)
        here = set()
        for i in rows[k]:
            here.update(range(col_lo[i], col_hi[i] + 1))
        tight = gap < min(0.45 * h, 0.5 * typical)
        # a cell's text wrapped onto more lines: the next line holds fewer of the row's columns
        # (one or two), or the row so far is the lone first lines of one cell, or both are
        if tight and (here < held and len(here) <= 2 or held < here and len(held) == 1 or here == held and len(here) == 1):
            merged[-1] = prev + rows[k]
        else:
            merged.append(rows[k])
    rows = merged
    n_rows = len(rows)
    # ---- edges
    body = _body(lines, rows)
    head_idx = [i for r in rows[:len(rows) - len(body)] for i in r]
    gap_w = [b - a for a, b in seps]
    pad = min(0.5 * float(np.median(gap_w)), 1.2 * h)
    col_edges = []
    for c, (a, b) in enumerate(seps):
        left = [i for i in range(len(B)) if col_hi[i] == c and col_lo[i] == c]
        right = [i for i in range(len(B)) if col_lo[i] == c + 1 and col_hi[i] == c + 1]
        x = (a + b) / 2
        if len(left) >= 2 and np.ptp(B[left, 2]) < 0.6 * h:  # the column before is right-aligned
            x = min(b - 0.25 * h, a + pad)
        elif len(right) >= 2 and np.ptp(B[right, 0]) < 0.6 * h:  # the column after is left-aligned
            x = max(a + 0.25 * h, b - pad)
        m = min(0.4 * h, (b - a) / 2)  # keep clear of the text on either side
        x = min(max(x, a + m), b - m)
        for i in head_idx:  # a header box across the edge: the edge moves out of its way, within the gap
            if B[i, 0] < x < B[i, 2]:
                if (B[i, 0] + B[i, 2]) / 2 > x and B[i, 0] >= a:
                    x = B[i, 0] - 0.15 * h
                elif (B[i, 0] + B[i, 2]) / 2 < x and B[i, 2] <= b:
                    x = B[i, 2] + 0.15 * h
        col_edges.append(float(x))
    x_left, x_right = float(B[:, 0].min() - pad), float(B[:, 2].max() + pad)
    row_tops = [min(B[i, 1] for i in r) for r in rows]
    row_bots = [max(B[i, 3] for i in r) for r in rows]
    ypad = min(0.5 * typical, 0.8 * h) if n_rows > 1 else 0.4 * h
    row_edges = [row_tops[0] - ypad] + [(row_bots[k] + row_tops[k + 1]) / 2 for k in range(n_rows - 1)] + \
        [row_bots[-1] + ypad]
    col_edges = [x_left] + col_edges + [x_right]
    # ---- cells: a box crossing a separator spans those columns when its text runs across it
    occ = np.zeros((n_rows, n_cols), dtype=bool)
    cells: list[GridCell] = []
    for r, idx in enumerate(rows):
        claims = [(int(col_lo[i]), int(col_hi[i]), i) for i in idx]
        for a, b, i in claims:
            if b <= a:
                continue
            if any(a2 <= b and b2 >= a for a2, b2, j in claims if j != i):
                continue  # another box of the row holds one of those columns
            real = [c for c in range(a, b) if _ink_across(gray, seps[c][0] / 2 + seps[c][1] / 2, B[i, 1], B[i, 3], h)]
            if len(real) == b - a and not occ[r, a:b + 1].any():
                occ[r, a:b + 1] = True
                cells.append(GridCell(r, a, 1, b - a + 1, (col_edges[a], row_edges[r], col_edges[b + 1],
                                                            row_edges[r + 1]), 0.0))
    for r in range(n_rows):
        for c in range(n_cols):
            if not occ[r, c]:
                cells.append(GridCell(r, c, 1, 1, (col_edges[c], row_edges[r], col_edges[c + 1], row_edges[r + 1]), 0.0))
    cells.sort(key=lambda c: (c.row, c.col))
    cells = _label_spans(cells, lines, row_edges, col_edges)
    _count_pieces(cells, lines, row_edges, col_edges)
    g = GridTable(bbox=(col_edges[0], row_edges[0], col_edges[-1], row_edges[-1]), row_edges=[float(v) for v in row_edges],
                  col_edges=[float(v) for v in col_edges], cells=cells, source="text")
    return g if is_table(g, lines) else None


def _slot(box: Box, row_edges: np.ndarray, col_edges: np.ndarray) -> Optional[tuple[int, int]]:
    """The (row, column) of the grid slot under the centre of ``box``; None outside the grid."""
    r = int(np.searchsorted(row_edges, (box[1] + box[3]) / 2)) - 1
    c = int(np.searchsorted(col_edges, (box[0] + box[2]) / 2)) - 1
    return (r, c) if 0 <= r < len(row_edges) - 1 and 0 <= c < len(col_edges) - 1 else None


def _label_spans(cells: list[GridCell], lines: Sequence[Line], row_edges: Sequence[float],
                 col_edges: Sequence[float]) -> list[GridCell]:
    """Cells that span rows, where rulings would have shown them: in a label column (sparse, no
    figures, a fuller column to its right: 一级指标 / 二级指标, 项目资金（元）), a label with blank
    cells above and below it spans the rows it is centred on, as far as the blanks go and as far
    as keeps it centred (to within a fifth of a row); the larger span when two fit."""
    n_rows, n_cols = len(row_edges) - 1, len(col_edges) - 1
    if n_rows < 3:
        return cells
    re_, ce = np.asarray(row_edges), np.asarray(col_edges)
    texts: dict[tuple[int, int], list[Line]] = {}
    for ln in lines:
        at = _slot(ln.bbox, re_, ce)
        if at is not None:
            texts.setdefault(at, []).append(ln)
    single = {(c.row, c.col): c for c in cells if c.rowspan == 1 and c.colspan == 1}
    filled = np.zeros((n_rows, n_cols), dtype=bool)
    for (r, c) in texts:
        filled[r, c] = True
    share = filled.mean(axis=0)
    row_h = float(np.median(np.diff(re_)))
    spans: list[tuple[int, int, int]] = []  # (col, first row, last row)
    for col in range(n_cols - 1):
        words = [ln.text for (r, c), ls in texts.items() if c == col for ln in ls]
        if share[col] > 0.6 or not words or any(FIGURE.match((w or "").replace(" ", "")) for w in words) \
                or not any(share[k] >= 0.7 for k in range(col + 1, n_cols)):
            continue
        taken = np.zeros(n_rows, dtype=bool)
        for r in range(n_rows):
            if (r, col) not in single or not filled[r, col]:
                continue
            blank = lambda k: (0 <= k < n_rows and not filled[k, col] and not taken[k] and (k, col) in single
                               and filled[k].any())
            up = 0
            while blank(r - up - 1):
                up += 1
            down = 0
            while blank(r + down + 1):
                down += 1
            if not up and not down:
                continue
            ls = texts[(r, col)]
            yc = (min(ln.bbox[1] for ln in ls) + max(ln.bbox[3] for ln in ls)) / 2
            best = None
            for a in range(up + 1):
                for b in range(down + 1):
                    off = abs((re_[r - a] + re_[r + b + 1]) / 2 - yc)
                    if off <= 0.2 * row_h and (best is None or a + b > best[0] + best[1]):
                        best = (a, b)
            if best and best[0] + best[1] > 0:
                taken[r - best[0]:r + best[1] + 1] = True
                spans.append((col, r - best[0], r + best[1]))
    if not spans:
        return cells
    drop = {(r, col) for col, r0, r1 in spans for r in range(r0, r1 + 1)}
    out = [c for c in cells if (c.row, c.col) not in drop]
    for col, r0, r1 in spans:
        out.append(GridCell(r0, col, r1 - r0 + 1, 1, (col_edges[col], row_edges[r0], col_edges[col + 1], row_edges[r1 + 1]), 0.0))
    out.sort(key=lambda c: (c.row, c.col))
    return out


def _count_pieces(cells: list[GridCell], lines: Sequence[Line], row_edges: Sequence[float],
                  col_edges: Sequence[float]) -> None:
    """Each cell's number of text pieces standing side by side inside it (after the boxes were cut
    at blank runs): two or more is two columns run together, or a cell whose words stand far
    apart; either way the cell's text is in doubt. Each line goes to the cell under its centre."""
    owner = np.full((len(row_edges) - 1, len(col_edges) - 1), -1, dtype=np.int64)
    for k, c in enumerate(cells):
        owner[c.row:c.row + c.rowspan, c.col:c.col + c.colspan] = k
    inside: list[list[Box]] = [[] for _ in cells]
    re_, ce = np.asarray(row_edges), np.asarray(col_edges)
    for ln in lines:
        at = _slot(ln.bbox, re_, ce)
        if at is not None and owner[at] >= 0:
            inside[owner[at]].append(ln.bbox)
    for c, boxes in zip(cells, inside):
        boxes.sort(key=lambda b: b[0])
        n = 1 if boxes else 0
        for a, b in zip(boxes, boxes[1:]):
            if min(a[3], b[3]) - max(a[1], b[1]) > 0.5 * min(a[3] - a[1], b[3] - b[1]) and b[0] > a[2]:
                n += 1
        c.pieces = n


def is_table(g: GridTable, lines: Sequence[Line]) -> bool:
    """Table evidence: at least two columns and two rows; at least half the rows (and two) hold
    text in two or more columns; and at least 40 % of the cells hold text (a title, a paragraph or a
    diagram's labels laid over a grid leave most of it empty)."""
    if g.n_rows < 2 or g.n_cols < 2:
        return False
    filled = np.zeros((g.n_rows, g.n_cols), dtype=bool)
    ce, re_ = np.asarray(g.col_edges), np.asarray(g.row_edges)
    for ln in lines:
        cx, cy = (ln.bbox[0] + ln.bbox[2]) / 2, (ln.bbox[1] + ln.bbox[3]) / 2
        r = int(np.searchsorted(re_, cy)) - 1
        a = max(0, int(np.searchsorted(ce, ln.bbox[0] + 1)) - 1)
        b = min(g.n_cols - 1, int(np.searchsorted(ce, ln.bbox[2] - 1)) - 1)
        if 0 <= r < g.n_rows:
            filled[r, a:b + 1] = True
    multi = int((filled.sum(axis=1) >= 2).sum())
    covered = sum(c.rowspan * c.colspan for c in g.cells if filled[c.row:c.row + c.rowspan, c.col:c.col + c.colspan].any())
    return multi >= max(2, g.n_rows // 2) and covered >= 0.4 * g.n_rows * g.n_cols


def text_table_regions(lines: Sequence[Line], page_w: float, min_rows: int = 3) -> list[Box]:
    """Regions of the page where text falls into aligned columns: runs of rows (no wider apart
    than ~2.5 text heights) of which at least ``min_rows`` are split into pieces far apart (more
    than 1.5 text heights), the pieces' gaps lining up. Prose, titles and the one meta line of a
    table page (部门名称 … 单位：万元) give none."""
    lines = [ln for ln in lines if ln.bbox[2] > ln.bbox[0] and ln.bbox[3] > ln.bbox[1]]
    if len(lines) < 6:
        return []
    h = _text_height(lines)
    rows = _rows(lines)
    B = np.array([ln.bbox for ln in lines], dtype=float)

    def split(r: list[int]) -> bool:
        right = B[r[0], 2]
        for i in r[1:]:
            if B[i, 0] - right > 1.5 * h:
                return True
            right = max(right, B[i, 2])
        return False

    blocks: list[list[list[int]]] = []
    cur: list[list[int]] = []
    for k, r in enumerate(rows):
        meta = any(META_LINE.search(lines[i].text or "") for i in r)
        gap = min(B[i, 1] for i in r) - max(B[i, 3] for i in cur[-1]) if cur else 0.0
        near = cur and gap < 2.5 * h
        centred = abs((B[r[0], 0] + B[r[0], 2]) / 2 - page_w / 2) < 0.06 * page_w
        # a line alone on its row: taller than the text, or centred on the page and apart from the
        # rows above, or centred and naming a table (a title set close under the table before it)
        title = len(r) == 1 and (B[r[0], 3] - B[r[0], 1] > 1.2 * h / BOX_TO_CHAR or centred and (
            gap > 1.2 * h or bool(TABLE_TITLE.search(lines[r[0]].text or ""))))
        if meta or title:
            if cur:
                blocks.append(cur)
            cur = []
            continue
        if cur and not near:
            blocks.append(cur)
            cur = []
        cur.append(r)
    if cur:
        blocks.append(cur)
    def region(blk: list[list[int]]) -> Optional[Box]:
        # trim rows at either end that are not split (a heading above, a note below)
        while blk and not split(blk[0]) and len(blk[0]) == 1 and (B[blk[0][0], 2] - B[blk[0][0], 0]) > 0.5 * page_w:
            blk = blk[1:]
        if len(blk) > 1:  # a subtitle centred over the block ("(2025年度)")
            bx0 = min(B[i, 0] for r in blk for i in r)
            bx1 = max(B[i, 2] for r in blk for i in r)
            while len(blk) > 1 and len(blk[0]) == 1 and \
                    abs((B[blk[0][0], 0] + B[blk[0][0], 2]) / 2 - (bx0 + bx1) / 2) < 0.08 * (bx1 - bx0):
                blk = blk[1:]
        if sum(split(r) for r in blk) < min_rows:
            return None
        idx = [i for r in blk for i in r]
        sub = [lines[i] for i in idx]
        if not _separators(sub, _rows(sub), h):
            return None
        return float(B[idx, 0].min()), float(B[idx, 1].min()), float(B[idx, 2].max()), float(B[idx, 3].max())

    out = []
    for blk in blocks:
        # a form (a project block of label / value pairs over a grid of other columns, prose rows
        # between) has no one set of columns: its parts, cut at the prose rows (one box across much
        # of the block, or a sentence), may each be a table (merge_stacked joins them back)
        x0 = min(B[i, 0] for r in blk for i in r)
        x1 = max(B[i, 2] for r in blk for i in r)
        def cut(wide: float, sentence: float) -> list[list[list[int]]]:
            parts: list[list[list[int]]] = [[]]
            for r in blk:
                if any(B[i, 2] - B[i, 0] > wide * (x1 - x0) or is_sentence(lines[i].text)
                       and B[i, 2] - B[i, 0] > sentence * (x1 - x0) for i in r):
                    parts.append([])
                else:
                    parts[-1].append(r)
            return [pt for pt in parts if pt]

        # sentences (or one box across most of the block) first: a budget table's long item names
        # (机关事业单位基本养老保险缴费支出) are neither
        parts = cut(0.6, 0.25)
        if len(parts) > 1:
            regs = [region(pt) for pt in parts]
            if any(rg is not None for rg in regs):
                out += [rg for rg in regs if rg is not None]
                continue
        reg = region(blk)
        if reg is not None:
            out.append(reg)
            continue
        for pt in cut(0.4, 0.25):
            reg = region(pt)
            if reg is not None:
                out.append(reg)
    return out


def merge_stacked(grids: Sequence[GridTable], lines: Sequence[Line], max_gap: float = 400.0) -> list[GridTable]:
    """Grids built from text that one form stacks (a project block of label / value pairs, prose
    rows, a KPI grid below): one table, as a ruled form is one table. Two text grids are joined
    when they overlap across at least 70 % of the narrower one's width and nothing but text lines
    stands between them; the lines between become rows of a label (the first column) and a text
    spanning the rest. Column edges are the union of both grids', edges closer than 1 % of the
    width merged; each cell spans the union columns its own edges enclose."""
    out = sorted(grids, key=lambda g: g.bbox[1])
    merged: list[GridTable] = []
    for g in out:
        if merged and g.source == "text" and merged[-1].source == "text":
            a = merged[-1]
            ov = min(a.bbox[2], g.bbox[2]) - max(a.bbox[0], g.bbox[0])
            narrow = min(a.bbox[2] - a.bbox[0], g.bbox[2] - g.bbox[0])
            between = [ln for ln in lines if a.bbox[3] - 1 <= (ln.bbox[1] + ln.bbox[3]) / 2 <= g.bbox[1] + 1]
            box_h = float(np.median([ln.bbox[3] - ln.bbox[1] for ln in lines])) if lines else 0.0
            ux0, ux1 = min(a.bbox[0], g.bbox[0]), max(a.bbox[2], g.bbox[2])
            rows_between = _rows(between) if between else []
            # a title between them (taller, or alone and centred over both): two tables
            titled = any(len(r) == 1 and _centred(between[r[0]].bbox, ux0, ux1)
                         and between[r[0]].bbox[2] - between[r[0]].bbox[0] < 0.6 * (ux1 - ux0) for r in rows_between)
            apart = titled or any(META_LINE.search(ln.text or "") or ln.bbox[3] - ln.bbox[1] > 1.25 * box_h
                                  for ln in between)
            if ov >= 0.7 * narrow and 0 <= g.bbox[1] - a.bbox[3] <= max_gap and not apart:
                merged[-1] = _join(a, g, between)
                continue
        merged.append(g)
    return merged


def _centred(box: Box, x0: float, x1: float) -> bool:
    """Is ``box`` centred over [x0, x1] (to 5 % of its width), as a title is?"""
    return abs((box[0] + box[2]) / 2 - (x0 + x1) / 2) < 0.05 * (x1 - x0)


def extend_up(g: GridTable, lines: Sequence[Line]) -> GridTable:
    """A text grid with the form rows set right above it: rows of a label inside the first column
    and a text right of it (项目实施计划 | 2025年1月至12月…, 总体目标 | 实施期目标 …), as a KPI form
    continued from the previous page opens. Rows are taken upward while each sits within two row
    pitches of the one below and no box of it crosses the first column's edge (a prose paragraph
    does; a title or a unit line ends the search), and only if one of them holds both a label and
    a text; they join the grid as merge_stacked joins the lines between two grids."""
    if g.source != "text" or g.n_cols < 2 or g.n_rows < 2:
        return g
    x0, x1, e1 = g.bbox[0], g.bbox[2], g.col_edges[1]
    h = _text_height(lines) if lines else 12.0
    tol = 0.5 * h
    above = [ln for ln in lines if (ln.bbox[1] + ln.bbox[3]) / 2 < g.bbox[1] and ln.bbox[2] > x0 - tol
             and ln.bbox[0] < x1 + tol]
    if not above:
        return g
    pitch = float(np.median(np.diff(g.row_edges)))
    rows = _rows(above)
    taken: list[int] = []
    top, form = g.bbox[1], False
    for idx in reversed(rows):
        boxes = [above[i].bbox for i in idx]
        if top - max(b[3] for b in boxes) > 2.0 * pitch:
            break
        if any(TABLE_TITLE.search(above[i].text or "") or META_LINE.search(above[i].text or "") for i in idx):
            break
        if any(b[0] < x0 - tol or b[2] > x1 + tol or (b[0] < e1 - tol and b[2] > e1 + tol) for b in boxes):
            break  # out of the grid's width, or across the first column's edge: not a form row
        if len(idx) == 1 and _centred(boxes[0], x0, x1) and boxes[0][0] > e1:
            break  # one line centred over the grid: a title
        form = form or (any(b[2] <= e1 + tol for b in boxes) and any(b[0] >= e1 - tol for b in boxes))
        taken += idx
        top = min(b[1] for b in boxes)
    if not form:
        return g
    pad = 0.5 * max(pitch - h / BOX_TO_CHAR, 0.0) if pitch > h / BOX_TO_CHAR else 0.2 * h
    y0 = top - pad
    head = GridTable(bbox=(x0, y0, x1, y0), row_edges=[y0], col_edges=[x0, x1], cells=[], source="text")
    return _join(head, g, [above[i] for i in taken])


def _join(a: GridTable, b: GridTable, between: Sequence[Line]) -> GridTable:
    """``a`` over ``b`` as one grid; ``between``: the text lines between them."""
    x0, x1 = min(a.bbox[0], b.bbox[0]), max(a.bbox[2], b.bbox[2])
    tol = 0.01 * (x1 - x0)
    edges: list[float] = []
    for e in sorted(a.col_edges[1:-1] + b.col_edges[1:-1]):
        if edges and e - edges[-1] < tol:
            edges[-1] = (edges[-1] + e) / 2
        else:
            edges.append(e)
    col_edges = [x0] + [e for e in edges if x0 + tol < e < x1 - tol] + [x1]
    ce = np.asarray(col_edges)

    def cols(c0: float, c1: float) -> tuple[int, int]:
        lo = int(np.argmin(np.abs(ce - c0)))
        hi = int(np.argmin(np.abs(ce - c1)))
        return lo, max(lo + 1, hi)

    cells: list[GridCell] = []
    row_edges: list[float] = []

    def add(g: GridTable, r0: int) -> None:
        for c in g.cells:
            lo, hi = cols(g.col_edges[c.col], g.col_edges[c.col + c.colspan])
            cells.append(GridCell(c.row + r0, lo, c.rowspan, hi - lo, (col_edges[lo], c.bbox[1], col_edges[hi], c.bbox[3]),
                                  c.borders_seen, c.pieces))

    add(a, 0)
    row_edges += a.row_edges
    # the lines between the two grids: rows of a label and a text across the rest (or the texts
    # that stand apart across it, each over the columns it falls in)
    between = [ln for ln in between if ln.bbox[2] > x0 and ln.bbox[0] < x1]
    rows = _rows(between) if between else []
    box_h = float(np.median([ln.bbox[3] - ln.bbox[1] for ln in between])) if between else 0.0
    r = a.n_rows
    gap_min = BOX_TO_CHAR * box_h  # a character's height: texts further apart are in other cells
    for k, idx in enumerate(rows):
        bot = max(ln.bbox[3] for ln in (between[i] for i in idx))
        nxt = min(ln.bbox[1] for ln in (between[i] for i in rows[k + 1])) if k + 1 < len(rows) else b.bbox[1]
        y1 = (bot + nxt) / 2 if k + 1 < len(rows) else b.bbox[1]
        y0 = row_edges[-1]
        # the row's texts in clusters along x (the wrapped lines of one cell overlap)
        clusters: list[list[float]] = []
        for bb in sorted((between[i].bbox for i in idx), key=lambda bb: bb[0]):
            if clusters and bb[0] <= clusters[-1][1] + gap_min:
                clusters[-1][1] = max(clusters[-1][1], bb[2])
            else:
                clusters.append([bb[0], bb[2]])
        # cells: the first (the label) ends at the first column edge past its text; the others
        # at the column edge nearest the middle of the blank before the next
        bounds = [0]
        for c0, c1 in zip(clusters, clusters[1:]):
            if len(bounds) == 1:
                past = [j for j, e in enumerate(col_edges) if c0[1] - 0.01 * (x1 - x0) <= e <= c1[0]]
                j = past[0] if past else int(np.argmin(np.abs(ce - (c0[1] + c1[0]) / 2)))
            else:
                j = int(np.argmin(np.abs(ce - (c0[1] + c1[0]) / 2)))
            if bounds[-1] < j < len(col_edges) - 1:
                bounds.append(j)
        if len(bounds) == 1:
            bounds.append(1)
        bounds.append(len(col_edges) - 1)
        for lo, hi in zip(bounds, bounds[1:]):
            if hi > lo:
                cells.append(GridCell(r, lo, 1, hi - lo, (col_edges[lo], y0, col_edges[hi], y1), 0.0, 1))
        row_edges.append(y1)
        r += 1
    if not rows:
        row_edges[-1] = (row_edges[-1] + b.row_edges[0]) / 2
    add(b, r)
    row_edges += b.row_edges[1:]
    # the slots no cell covers (a grid narrower than the union): empty cells, so the grid is whole;
    # a cell that would overlap one already placed (two edges merged into one) is left out
    n_rows, n_cols = len(row_edges) - 1, len(col_edges) - 1
    taken = np.zeros((n_rows, n_cols), dtype=bool)
    kept = []
    for c in cells:
        if not taken[c.row:c.row + c.rowspan, c.col:c.col + c.colspan].any():
            taken[c.row:c.row + c.rowspan, c.col:c.col + c.colspan] = True
            kept.append(c)
    cells = kept
    for rr, cc in zip(*np.nonzero(~taken)):
        cells.append(GridCell(int(rr), int(cc), 1, 1, (col_edges[cc], row_edges[rr], col_edges[cc + 1], row_edges[rr + 1]), 0.0))
    cells.sort(key=lambda c: (c.row, c.col))
    return GridTable(bbox=(x0, row_edges[0], x1, row_edges[-1]), row_edges=[float(v) for v in row_edges],
                     col_edges=[float(v) for v in col_edges], cells=cells, source="text")
