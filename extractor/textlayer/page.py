"""A Page from a trusted text layer: the same Page the OCR path gives, with no OCR.

- Ruled tables: the grid comes from the page's vector rulings, drawn alone (``Layer.rulings``: the
  page with its text hidden) and cut by the same ruled-grid stage as a scan (table/grid.py), so
  spans, open sides and tables continued across pages follow the same rules.
- Tables without rulings: text lines made from the characters go through the same text-alignment
  stage as OCR'd lines (table/unruled.py).
- A cell's text is the characters whose box centre falls inside it, line by line in reading order,
  wrapped lines joined; text outside tables becomes paragraphs as on a scan (layout/paragraphs.py).
- A ruled table whose inked cells hold no characters (a scan pasted into the page) is read by OCR,
  and the page is ``mixed``.

Boxes are in pixels of the page image at the chosen dpi, so the output reads the same whichever
path read the page. Every table carries ``text_source: "pdf"``, every cell a confidence from its own evidence
(``cell_confidence``): the characters came from the file, so doubt comes from their decoding and,
later, from the arithmetic checks (finish.py).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Optional

import numpy as np

from ..geometry import inside_frac
from ..layout import TextLine, paragraphs
from ..model import Cell, Failure, OcrEvidence, Page, Region, StructureEvidence, Table, Transform
from ..table import GridTable, find_tables
from ..table.align import BOX_TO_CHAR
from ..table.unruled import unruled_tables
from .read import Layer
from .trust import decode_problem

# a gap between two characters on one row wider than this many character heights ends a text line
# (as align.split_at_gaps cuts a detected box at a blank run)
LINE_GAP = 0.7
# a text line's box padded by this many character heights each side (1 / BOX_TO_CHAR = 1 + 2 x PAD)
PAD = (1 / BOX_TO_CHAR - 1) / 2
# raw confidence (mapped by ``layer_cells`` in models/calibration.json, scripts/calibrate_layer.py):
# a cell of a ruled grid whose text the file gave and decodes cleanly; one of a grid built from the
# text's alignment (the characters are right, where the cell ends is inferred); one whose text is
# cut by its borders (a character straddling two cells); one with a suspicious code point in it
SURE, TEXT_GRID, STRADDLED, DOUBTFUL_DECODE = 0.995, 0.8, 0.6, 0.3

Char = tuple  # (text, x0, y0, x1, y1, invisible)


def _visible(chars: list[Char]) -> tuple[list[Char], np.ndarray]:
    """The visible, non-space characters and their box centres (n x 2)."""
    vis = [c for c in chars if not c[5] and not c[0].isspace()]
    return vis, np.array([((c[1] + c[3]) / 2, (c[2] + c[4]) / 2) for c in vis]).reshape(-1, 2)


def _in_box(centres: np.ndarray, box) -> np.ndarray:
    """Which centres fall in ``box`` (x0, y0, x1, y1; right and bottom edges excluded)."""
    x0, y0, x1, y1 = box
    return (centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0) & (centres[:, 1] < y1)


def _rows(chars: list[Char]) -> list[list[Char]]:
    """Characters grouped into rows (boxes overlapping by half a height, or a mark whose middle lies
    in the row), each left to right."""
    rows: list[list[Char]] = []
    for c in sorted(chars, key=lambda c: ((c[2] + c[4]) / 2, c[1])):
        if rows:
            r = rows[-1]
            top, bot = min(x[2] for x in r), max(x[4] for x in r)
            mid = (c[2] + c[4]) / 2  # a small mark (",", "。") sits low in the line: its middle is inside it
            if top <= mid <= bot or min(bot, c[4]) - max(top, c[2]) > 0.5 * min(bot - top, c[4] - c[2]):
                r.append(c)
                continue
        rows.append([c])
    for r in rows:
        r.sort(key=lambda c: c[1])
    return rows


def text_lines(chars: list[Char]) -> list[TextLine]:
    """The visible characters as text lines, as a text detector would box them: rows cut where the
    gap between neighbours is wider than ``LINE_GAP`` character heights."""
    out: list[TextLine] = []
    for r in _rows([c for c in chars if not c[5]]):
        # the row's character height (a glyph's own box may be a dot's or a "一"'s)
        h = max(1.0, float(np.percentile([c[4] - c[2] for c in r], 90)))
        piece: list[Char] = []
        for c in r:
            if piece and c[1] - piece[-1][3] > LINE_GAP * h:
                out.append(_line(piece, h))
                piece = []
            piece.append(c)
        if piece:
            out.append(_line(piece, h))
    return [ln for ln in out if ln.text]


def _line(piece: list[Char], h: float) -> TextLine:
    """One text line, its box padded above and below as the text detector pads the boxes it finds
    (a third of the characters' height, table.align.BOX_TO_CHAR) and as wide as its ink, as
    align.split_at_gaps trims them, so the stages after it see the same geometry from either path."""
    text = "".join(c[0] for c in piece).strip()
    pad = PAD * h  # above and below only: across, the ink's own extent is what lines up (align.split_at_gaps)
    box = [min(c[1] for c in piece), min(c[2] for c in piece) - pad, max(c[3] for c in piece), max(c[4] for c in piece) + pad]
    return TextLine([round(v, 1) for v in box], text, [1.0] * len(text))


def cell_text(chars: list[Char]) -> tuple[str, int]:
    """(text, lines) of the characters in one cell: rows top to bottom, wrapped lines joined."""
    rows = _rows(chars)
    return "".join("".join(c[0] for c in r) for r in rows).strip(), len(rows)


def cell_confidence(text: str, straddled: bool, common: frozenset, text_grid: bool = False) -> float:
    if decode_problem(text.replace(" ", ""), common):
        return DOUBTFUL_DECODE
    return STRADDLED if straddled else (TEXT_GRID if text_grid else SURE)


def table_from_layer(g: GridTable, chars: list[Char], page_no: int, index: int, common: frozenset) -> Table:
    """A grid and the layer's characters as a Table."""
    cells = []
    vis, centres = _visible(chars)
    for gc in g.cells:
        x0, y0, x1, y1 = gc.bbox
        mine = [vis[i] for i in np.flatnonzero(_in_box(centres, gc.bbox))]
        text, n_lines = cell_text(mine)
        straddled = any(c[1] < x0 - 2 or c[3] > x1 + 2 or c[2] < y0 - 2 or c[4] > y1 + 2 for c in mine)
        ev = OcrEvidence(mean_prob=1.0, min_prob=1.0, n_chars=len(text), n_lines=n_lines)
        text_grid = g.source != "lines"
        st = StructureEvidence(borders_seen=round(float(gc.borders_seen), 3), span_inferred=text_grid,
                               source="text" if text_grid else "lines", pieces=gc.pieces if text_grid else None)
        cell = Cell(row=gc.row, col=gc.col, rowspan=gc.rowspan, colspan=gc.colspan,
                    bbox=[round(float(v), 1) for v in gc.bbox], text=text, ocr=ev, structure=st)
        cell.confidence = cell_confidence(text, straddled, common, text_grid)
        cells.append(cell)
    return Table(id=f"p{page_no}-t{index}", bbox=[round(float(v), 1) for v in g.bbox], n_rows=g.n_rows,
                 n_cols=g.n_cols, cells=cells, source="lines" if g.source == "lines" else "text",
                 col_edges=[round(float(v), 1) for v in g.col_edges], text_source="pdf")


def char_height(layer: Layer) -> Optional[float]:
    """The page's character height in page pixels (80th percentile of the Chinese characters' and
    digits' boxes, as the grid stage measures it on a scan); None with too few."""
    hs = [c[4] - c[2] for c in layer.chars if not c[5] and (c[0].isdigit() or "\u4e00" <= c[0] <= "\u9fff")]
    return float(np.percentile(hs, 80)) if len(hs) >= 20 else None


def scale_grid(g: GridTable, f: float) -> GridTable:
    """A grid found on the rulings drawn at a lower dpi, in pixels of the page image (``f`` times)."""
    if f == 1.0:
        return g
    sc = lambda b: tuple(float(v) * f for v in b)  # noqa: E731
    return GridTable(bbox=sc(g.bbox), row_edges=[v * f for v in g.row_edges], col_edges=[v * f for v in g.col_edges],
                     cells=[replace(c, bbox=sc(c.bbox)) for c in g.cells], source=g.source)


def inked_but_unlettered(g: GridTable, layer: Layer) -> bool:
    """A ruled grid whose inked cells mostly hold no character of the layer: a table pasted in as
    an image (a scan inside a born-digital page; images are drawn with the rulings). Its cells are
    to be OCR'd."""
    img, f = layer.rulings, layer.dpi / (layer.rulings_dpi or layer.dpi)
    h, w = img.shape
    _, centres = _visible(layer.chars)
    inked = bare = 0
    for gc in g.cells:
        x0, y0, x1, y1 = gc.bbox
        pad = 3  # inside the rules (rulings pixels)
        crop = img[max(0, int(y0 / f) + pad):min(h, int(y1 / f) - pad), max(0, int(x0 / f) + pad):min(w, int(x1 / f) - pad)]
        if crop.size == 0 or int(crop.min()) >= 160:
            continue
        inked += 1
        bare += not _in_box(centres, gc.bbox).any()
    return inked >= 2 and bare > 0.5 * inked


def _piece(g: GridTable, r0: int, r1: int) -> Optional[GridTable]:
    """Rows r0..r1-1 of ``g`` as a grid of their own, the columns no cell there uses dropped."""
    cells = [c for c in g.cells if c.row >= r0 and c.row + c.rowspan <= r1]
    if not cells:
        return None
    used = sorted({c.col for c in cells} | {c.col + c.colspan for c in cells})
    idx = {k: i for i, k in enumerate(used)}
    cols = [g.col_edges[k] for k in used]
    out = [replace(c, row=c.row - r0, col=idx[c.col], colspan=idx[c.col + c.colspan] - idx[c.col]) for c in cells]
    rows = g.row_edges[r0:r1 + 1]
    return GridTable(bbox=(cols[0], rows[0], cols[-1], rows[-1]), row_edges=list(rows), col_edges=cols, cells=out,
                     source=g.source)


def split_at_blank_rows(g: GridTable, rulings: np.ndarray, f: float, chars: list[Char]) -> list[GridTable]:
    """A grid cut where one of its rows is the blank gap between two tables drawn close (on the
    rulings at a lower dpi the grid stage may bridge it): no ruling crosses the row at any column
    boundary, no character lies in it and no cell spans it. ``f``: page pixels per rulings pixel."""
    h, w = rulings.shape
    _, centres = _visible(chars)
    for r in range(1, g.n_rows - 1):
        y0, y1 = g.row_edges[r] / f, g.row_edges[r + 1] / f
        a, b = int(y0) + 2, int(np.ceil(y1)) - 2
        if b <= a or any(c.row < r < c.row + c.rowspan for c in g.cells):
            continue
        crossed = False
        for x in g.col_edges:
            xi = int(round(x / f))
            band = rulings[a:b, max(0, xi - 2):min(w, xi + 3)]
            if band.size and (band.min(axis=1) < 160).mean() > 0.5:
                crossed = True
                break
        if crossed or _in_box(centres, (g.bbox[0], g.row_edges[r], g.bbox[2], g.row_edges[r + 1])).any():
            continue
        top, bottom = _piece(g, 0, r), _piece(g, r + 1, g.n_rows)
        if top is None or bottom is None:
            continue
        return [top] + split_at_blank_rows(bottom, rulings, f, chars)
    return [g]


def _suspect(grids: list[GridTable], chars: list[Char]) -> bool:
    """A cell whose characters stand in two runs far apart on one row: two columns the grid stage
    ran together (a boundary lost at the lower dpi)."""
    vis, centres = _visible(chars)
    for g in grids:
        for gc in g.cells:
            idx = np.flatnonzero(_in_box(centres, gc.bbox))
            if len(idx) < 2:
                continue
            for r in _rows([vis[i] for i in idx]):
                h = max(c[4] - c[2] for c in r)
                if any(b[1] - a[3] > 1.5 * h for a, b in zip(r, r[1:])):
                    return True
    return False


def _lost_rule(grids: list[GridTable], rulings: np.ndarray, f: float) -> bool:
    """A rule drawn across a grid row's inside that the grid did not take as an edge (the bottom of
    one table and the top of the next bridged into one row at the lower dpi)."""
    h, w = rulings.shape
    for g in grids:
        a, b = max(0, int(g.bbox[0] / f)), min(w, int(np.ceil(g.bbox[2] / f)))
        for y0, y1 in zip(g.row_edges, g.row_edges[1:]):
            top, bot = max(0, int(y0 / f) + 3), min(h, int(y1 / f) - 2)
            if bot > top and b - a > 10 and ((rulings[top:bot, a:b] < 160).mean(axis=1) > 0.8).any():
                return True
    return False


def ruled_grids(layer: Layer, full_rulings: Optional[Callable[[], np.ndarray]] = None) -> list[GridTable]:
    """The page's ruled grids from its rulings drawn alone: first on those at about read.FAST_DPI (the
    grid stage's time goes with pixels; read.pooled keeps every hairline); where that looks wrong
    (two tables bridged across a blank gap, a rule left inside a row, or a cell holding two runs of
    text far apart) again on the rulings at the page's dpi (``full_rulings``)."""
    th = char_height(layer)
    f = layer.dpi / (layer.rulings_dpi or layer.dpi)
    found = find_tables(layer.rulings, text_h=th / f if th else None)
    grids = [p for g in found for p in split_at_blank_rows(scale_grid(g, f), layer.rulings, f, layer.chars)]
    if f == 1.0 or full_rulings is None or (len(grids) == len(found) and not _suspect(grids, layer.chars)
                                             and not _lost_rule(grids, layer.rulings, f)):
        return grids
    full = full_rulings()
    f = layer.width / full.shape[1] if full.shape[1] else 1.0
    return [p for g in find_tables(full, text_h=th / f if th else None)
            for p in split_at_blank_rows(scale_grid(g, f), full, f, layer.chars)]


def page_from_layer(layer: Layer, number: int, reason: str, common: frozenset = frozenset(),
                    ocr: Optional[Callable[[list[GridTable], list[Failure]], list[Table]]] = None,
                    full_rulings: Optional[Callable[[], np.ndarray]] = None) -> Page:
    """The whole page from its text layer (see the module docstring). Ruled grids whose ink the
    layer has no characters for (a pasted scan) are read by ``ocr`` (grids -> Tables), and the page
    is then ``mixed``; ``full_rulings`` draws the rulings at the page's dpi where needed."""
    t0 = time.perf_counter()
    failures: list[Failure] = []
    grids: list[GridTable] = []
    try:
        grids = ruled_grids(layer, full_rulings)
    except Exception as e:  # noqa: BLE001 - the page goes on without ruled tables
        failures.append(Failure(stage="table", category="error", message=str(e), page=number))
    pasted = [g for g in grids if ocr is not None and inked_but_unlettered(g, layer)]
    grids = [g for g in grids if not any(g is p for p in pasted)]
    lines = text_lines(layer.chars)
    grids += unruled_tables(None, grids + pasted, lines, [], failures, number, size=(layer.height, layer.width))
    tables = []
    for i, g in enumerate(grids):
        try:
            tables.append(table_from_layer(g, layer.chars, number, i, common))
        except Exception as e:  # noqa: BLE001
            failures.append(Failure(stage="table", category="error", message=f"table {i}: {e}", page=number))
    if pasted:
        tables += ocr(pasted, failures)
        reason += f"; {len(pasted)} table(s) pasted in as images OCR'd"
    tables.sort(key=lambda t: (t.bbox[1], t.bbox[0]))
    for i, t in enumerate(tables):
        t.id = f"p{number}-t{i}"
    free = [ln for ln in lines if not any(inside_frac(ln.bbox, t.bbox) > 0.5 for t in tables)]
    page = Page(page=number, width=layer.width, height=layer.height, dpi=layer.dpi,
                transform=Transform(source_width=layer.width, source_height=layer.height),
                text_layer=True, text_source="mixed" if pasted else "pdf", text_source_reason=reason)
    page.tables = tables
    page.paragraphs = paragraphs(free, None, layer.width)
    for p in page.paragraphs:  # the characters are the file's: no recogniser's doubt in them
        p.confidence = cell_confidence(p.text, False, common)
    page.regions = [Region(kind="table", bbox=list(t.bbox), source="lines" if t.source == "lines" else "text")
                    for t in tables]
    page.failures = failures
    page.seconds = round(time.perf_counter() - t0, 3)
    return page

