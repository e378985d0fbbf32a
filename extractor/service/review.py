"""What the review page shows for each queued value: where it sits (page, box, the row and column
headers it belongs to), why it was flagged (the arithmetic checks it breaks, its confidence, the
weakest piece of evidence), built from the store's review queue and the stored document."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from ..model import Cell, Document, KpiRecord, Table
from ..store import QueueItem

# a cell that reads as an amount: "1,021.29", "-3.5", "98%", "≥1,000" — a figure with a decimal point, a thousands
# separator or a percent sign; a bare integer ("2013101", a 科目编码) is a label, and units or Chinese text are not
# figures at all
_FIGURE = re.compile(r"^[\s+\-−≥≤<>＞＜~～]*[\d,，.．]*\d[\d,，.．]*\s*%?$")
HEADER_ROWS_MAX = 3  # header rows looked for at the top of a table


def is_amount(text: str) -> bool:
    t = text.strip()
    return bool(_FIGURE.match(t)) and any(ch in t for ch in ",，.．%")


def _texts(cells: list[Cell], exclude: Cell) -> list[str]:
    out: list[str] = []
    for c in cells:
        t = c.text.strip()
        if c is not exclude and t and t not in out:
            out.append(t)
    return out


def _kpi_headers(table: Table, cell: Cell, at: Any) -> tuple[list[str], list[str]]:
    """A KPI table is label: value pairs above, an indicator grid below: the row headers are the
    nearest labels left of the cell, the column header the indicator header (…指标, 指标值) above it."""
    left: list[Cell] = []
    k = cell.col - 1
    while k >= 0 and len(left) < 2:
        c = at(cell.row, k)
        if c is not None and c is not cell and c not in left and c.text.strip() and not is_amount(c.text):
            left.insert(0, c)
        k = (c.col if c is not None else k) - 1
    above = None
    for r in range(cell.row - 1, -1, -1):
        c = at(r, cell.col)
        if c is not None and c is not cell and c.text.strip().endswith(("指标", "指标值")):
            above = c
            break
    return _texts(left, cell), _texts([above] if above else [], cell)


def cell_headers(table: Table, cell: Cell) -> tuple[list[str], list[str]]:
    """(row headers, column headers) of a cell: the texts in the table's label columns on the cell's
    row (left of it), and in the header rows above it in its columns. Header rows are the rows at
    the top with no amount in them (at most three); label columns the columns left of the first one
    holding amounts below the header. KPI tables: see ``_kpi_headers``."""
    slots = table.slot_map()

    def at(r: int, k: int) -> Optional[Cell]:
        return slots.get((r, k))

    if (table.kind or "").startswith("kpi"):
        return _kpi_headers(table, cell, at)

    first_data = next((r for r in range(table.n_rows)
                       if any((c := at(r, k)) is not None and is_amount(c.text) for k in range(table.n_cols))),
                      table.n_rows)
    n_head = min(first_data, HEADER_ROWS_MAX) if first_data < table.n_rows else min(1, table.n_rows)
    first_fig_col = next((k for k in range(table.n_cols)
                          if any((c := at(r, k)) is not None and is_amount(c.text)
                                 for r in range(n_head, table.n_rows))), table.n_cols)
    n_label = first_fig_col if 0 < first_fig_col < table.n_cols else min(1, table.n_cols)

    cols = range(cell.col, cell.col + cell.colspan)
    col_cells = [c for r in range(min(n_head, cell.row)) for k in cols if (c := at(r, k)) is not None]
    row_cells = ([] if cell.row < n_head else
                 [c for k in range(min(n_label, cell.col)) if (c := at(cell.row, k)) is not None])
    return _texts(row_cells, cell), _texts(col_cells, cell)


def row_box(table: Table, row: int) -> Optional[list[float]]:
    """The box around one table row (a KPI record's row): as wide as the cells on it, as high as
    those that do not span other rows."""
    cells = [c for c in table.cells if c.row <= row < c.row + c.rowspan]
    if not cells:
        return None
    own = [c for c in cells if c.rowspan == 1] or cells
    return [min(c.bbox[0] for c in cells), min(c.bbox[1] for c in own), max(c.bbox[2] for c in cells),
            max(c.bbox[3] for c in own)]


def _weakest(cell: Cell) -> Optional[str]:
    """The weakest piece of evidence on a cell, in words."""
    ocr = cell.ocr
    if ocr is not None and ocr.char_probs and len(ocr.char_probs) == len(cell.text):
        i = min(range(len(ocr.char_probs)), key=ocr.char_probs.__getitem__)
        if ocr.char_probs[i] < 0.95:
            return f"character “{cell.text[i]}” (position {i + 1}) read with probability {ocr.char_probs[i]:.2f}"
    if ocr is not None and ocr.n_chars and ocr.min_prob < 0.95:
        return f"weakest character read with probability {ocr.min_prob:.2f}"
    if cell.structure.span_inferred:
        return "cell borders inferred from the text alignment (no ruling lines)"
    if cell.structure.borders_seen < 0.75:
        return f"only {cell.structure.borders_seen:.0%} of the cell's borders seen as lines"
    if not cell.text.strip() and ocr is not None and (ocr.ink or 0) > 0.01:
        return "read as empty, but there is ink in the cell"
    return None


@dataclass
class ReviewItem:
    target: str  # "cell" | "kpi"
    id: int  # the store's id, for POST .../reviews
    ref: str
    page: Optional[int]
    table_id: str
    table_title: Optional[str]
    row: int
    col: Optional[int]
    field: str  # what a correction changes: "text" (cell), "value" (KPI record)
    value: str
    confidence: float
    broken_checks: list[str]
    reasons: list[str]  # why it is in the queue, most telling first
    row_headers: list[str]
    col_headers: list[str]
    box: Optional[list[float]]  # on the page image, page pixels
    image_url: Optional[str]  # the crop of the page image under ``box``
    kpi: Optional[dict[str, Any]] = field(default=None)  # project, period, levels of a KPI record

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def enrich(doc_id: int, doc: Document, items: list[QueueItem], below: float) -> list[ReviewItem]:
    tables: dict[str, tuple[int, Table]] = {t.id: (p.page, t) for p in doc.pages for t in p.tables}
    broken_detail: dict[str, list[str]] = {}
    for ch in doc.checks:
        if not ch.ok:
            for ref in ch.cells:
                broken_detail.setdefault(ref, []).append(f"breaks {ch.name}: {ch.detail}")
    kpis: dict[str, KpiRecord] = {f"{k.table_id}:{k.row}:{k.period}": k for k in doc.kpis}
    out: list[ReviewItem] = []
    for it in items:
        page, table = tables.get(it.table_id, (it.page, None))
        reasons: list[str] = []
        row_h: list[str] = []
        col_h: list[str] = []
        kpi_info = None
        if it.target == "cell":
            reasons += broken_detail.get(it.ref) or [f"breaks {name}" for name in it.broken_checks]
            cell = None
            if table is not None:
                cell = next((c for c in table.cells if (c.row, c.col) == (it.row, it.col)), None)
            if it.confidence < below:
                reasons.append(f"confidence {it.confidence:.2f} is under {below:g}")
            if cell is not None:
                weak = _weakest(cell)
                if weak:
                    reasons.append(weak)
                row_h, col_h = cell_headers(table, cell)
            box = list(it.bbox) if it.bbox else None
        else:
            k = kpis.get(it.ref)
            reasons.append(f"confidence {it.confidence:.2f} is under {below:g}")
            if k is not None:
                reasons += list(k.notes) + [f"target: {x}" for x in k.target.issues]
                row_h = [x for x in (k.level1, k.level2, k.level3) if x]
                col_h = ["指标值", k.period]
                kpi_info = {"project": k.project, "period": k.period, "level1": k.level1, "level2": k.level2,
                            "level3": k.level3}
            box = row_box(table, it.row) if table is not None else None
        url = None
        if box is not None and page is not None:
            url = f"/api/documents/{doc_id}/pages/{page}.png?box=" + ",".join(f"{round(v, 1):g}" for v in box)
        out.append(ReviewItem(it.target, it.id, it.ref, page, it.table_id, table.title if table else None, it.row,
                              it.col, it.field, it.value, it.confidence, list(it.broken_checks), reasons, row_h,
                              col_h, box, url, kpi_info))
    return out
