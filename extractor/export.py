"""Exports of a Document: the versioned JSON, one CSV per table, the KPI records as CSV, every cell
with its review marks as CSV, and an Excel workbook (one sheet per table, doubtful cells filled).

A document loaded from the store carries reviewers' decisions: a corrected value is in place with
confidence 1.0 and ``source`` "review", an accepted one keeps its text with confidence 1.0; both are
``reviewed``. The KPI and cell CSVs and the workbook show these marks; the per-table CSVs are plain
grids of the (reviewed) text.
"""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import IO, Union

from .model import Document, KpiRecord, Table
from .policy import REVIEW_BELOW as LOW_CONFIDENCE  # values under it are highlighted in the workbook
from .policy import broken as broken_checks
from .policy import needs_review


def write_json(doc: Document, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc.model_dump_json(indent=1), encoding="utf-8")
    return p


def read_json(path: str | Path) -> Document:
    return Document.model_validate_json(Path(path).read_text(encoding="utf-8"))


# text a spreadsheet program would evaluate (OWASP, CSV injection): a leading = + - @, tab or CR, in
# full-width forms too; a plain figure ("-12.50", "+3", "-1,234.56", "39.23%") is a number, not a formula
_FORMULA_START = tuple("=+-@\t\r＝＋－＠")
_PLAIN_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?%?$")


def spreadsheet_safe(value):
    """``value`` as it may go into a CSV cell: text that would start a formula gets a leading
    apostrophe (shown by no spreadsheet program as a formula), a real number stays as it is."""
    if not isinstance(value, str):
        return value
    t = value.lstrip(" \u3000")
    if t.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(t):
        return "'" + value
    return value


def _safe_rows(rows: list[list]) -> list[list]:
    return [[spreadsheet_safe(v) for v in r] for r in rows]


def _csv_text(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(_safe_rows(rows))
    return buf.getvalue()


def _write_csv(path: Path, rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8-sig") as f:  # BOM: spreadsheet programs read the Chinese
        csv.writer(f).writerows(_safe_rows(rows))
    return path


def table_csv(table: Table, fill_merged: bool = False) -> str:
    """The table's grid as CSV text (no BOM): one line per row, a merged cell's text in its top-left
    slot (or, with ``fill_merged``, in every slot it covers)."""
    return _csv_text(table.grid(fill_merged))


def write_csvs(doc: Document, out_dir: str | Path, fill_merged: bool = False) -> list[Path]:
    """One UTF-8 (with BOM, so spreadsheet programs read the Chinese) CSV per table:
    ``<stem>_p<page>_t<index>.csv``, and ``<stem>_kpis.csv`` with the KPI records."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    stem = Path(doc.source).stem
    paths = []
    for page in doc.pages:
        for i, t in enumerate(page.tables):
            paths.append(_write_csv(d / f"{stem}_p{page.page}_t{i}.csv", t.grid(fill_merged)))
    if doc.kpis:
        paths.append(write_kpi_csv(doc, d / f"{stem}_kpis.csv"))
    return paths


KPI_COLUMNS = ["project", "period", "level1", "level2", "level3", "value", "comparator", "target_value", "unit",
               "value_yuan", "date_from", "date_to", "target_kind", "confidence", "table_id", "row", "source",
               "reviewed"]


def _kpi_row(k: KpiRecord) -> list:
    t = k.target
    return [k.project, k.period, k.level1, k.level2, k.level3, k.value, t.comparator or "",
            "" if t.value is None else t.value, t.unit or "", "" if t.value_yuan is None else t.value_yuan,
            t.date_from or "", t.date_to or "", t.kind, k.confidence, k.table_id, k.row, k.source,
            str(k.reviewed).lower()]


def kpi_rows(doc: Document) -> list[list]:
    """The KPI records as rows (header first), targets parsed, with their review marks."""
    return [KPI_COLUMNS] + [_kpi_row(k) for k in doc.kpis]


def kpi_csv(doc: Document) -> str:
    return _csv_text(kpi_rows(doc))


def write_kpi_csv(doc: Document, path: str | Path) -> Path:
    """The KPI records, one per indicator row and period, targets parsed."""
    return _write_csv(Path(path), kpi_rows(doc))


CELL_COLUMNS = ["table_id", "page", "row", "col", "rowspan", "colspan", "text", "confidence", "source", "reviewed",
                "checks"]


def cell_rows(doc: Document) -> list[list]:
    """Every cell of every table, one row each (header first), with its confidence and review marks."""
    out: list[list] = [CELL_COLUMNS]
    for p in doc.pages:
        for t in p.tables:
            for c in t.cells:
                out.append([t.id, p.page, c.row, c.col, c.rowspan, c.colspan, c.text, c.confidence, c.source,
                            str(c.reviewed).lower(), " ".join(c.checks)])
    return out


def cells_csv(doc: Document) -> str:
    return _csv_text(cell_rows(doc))


def write_cells_csv(doc: Document, path: str | Path) -> Path:
    return _write_csv(Path(path), cell_rows(doc))


# ---- Excel

FILL_LOW = "FFC7CE"  # low confidence or a broken arithmetic check, not reviewed: light red
FILL_REVIEWED = "C6EFCE"  # accepted by a reviewer: light green
FILL_CORRECTED = "9BD7A8"  # corrected by a reviewer: green
HEADER_FILL = "D9E1F2"


def _sheet_name(name: str, taken: set[str]) -> str:
    base = "".join("_" if ch in '[]:*?/\\' else ch for ch in name)[:31] or "sheet"
    out, i = base, 2
    while out.lower() in taken:
        suffix = f"~{i}"
        out, i = base[:31 - len(suffix)] + suffix, i + 1
    taken.add(out.lower())
    return out


def _text_cell(ws, row: int, col: int, value):
    """A worksheet cell holding ``value``; text is stored as a string (openpyxl would store text
    that starts with "=" as a formula: a reviewer's "=HYPERLINK(…)" must stay text)."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def _append(ws, row: list) -> None:
    """``ws.append(row)`` with its text stored as text (a file name or title can start with "=")."""
    ws.append(row)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def write_xlsx(doc: Document, out: Union[str, Path, IO[bytes]], below: float = LOW_CONFIDENCE) -> None:
    """An Excel workbook: a first sheet with the document, the legend and an index of the tables;
    one sheet per table (the grid from A1, merged cells merged); a "KPI" sheet with the KPI records.
    Values under ``below`` confidence or breaking an arithmetic check are filled light red (with a
    comment giving the confidence and the broken checks); reviewed values are green (darker when
    corrected), with a comment saying so. Text is kept as text, exactly as extracted or corrected."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    fills = {k: PatternFill("solid", start_color=v, end_color=v)
             for k, v in (("low", FILL_LOW), ("reviewed", FILL_REVIEWED), ("corrected", FILL_CORRECTED),
                          ("header", HEADER_FILL))}
    bold = Font(bold=True)

    def mark(cell, confidence: float, checks: list[str], source: str, reviewed: bool) -> None:
        if reviewed:
            cell.fill = fills["corrected" if source == "review" else "reviewed"]
            cell.comment = Comment("corrected by a reviewer" if source == "review" else "accepted by a reviewer",
                                   "extractor")
        elif needs_review(confidence, checks, below):
            broken = broken_checks(checks)
            cell.fill = fills["low"]
            cell.comment = Comment(f"confidence {confidence:.2f}" + (f"; breaks {', '.join(broken)}" if broken else ""),
                                   "extractor")

    wb = Workbook()
    info = wb.active
    info.title = "document"
    taken = {"document", "kpi"}
    cells = [c for t in doc.tables() for c in t.cells]
    n_low = sum(1 for c in cells if not c.reviewed and needs_review(c.confidence, c.checks, below))
    n_rev = sum(1 for c in cells if c.reviewed)
    rows: list[list] = [
        ["source", doc.source], ["pages", doc.n_pages], ["schema_version", doc.schema_version],
        ["extractor_version", doc.extractor_version], ["tables", len(doc.tables())], ["KPI records", len(doc.kpis)],
        ["cells to check", n_low], ["cells reviewed", n_rev], [],
        ["legend"], ["light red", f"confidence under {below:g} or a broken arithmetic check, not yet reviewed"],
        ["light green", "accepted by a reviewer (confidence 1.0)"],
        ["green", "corrected by a reviewer (confidence 1.0, source review)"], [],
        ["sheet", "table", "page", "title", "kind", "unit", "rows", "columns", "continued_from"],
    ]
    for r in rows:
        _append(info, r)
    for cell, key in ((info["A11"], "low"), (info["A12"], "reviewed"), (info["A13"], "corrected")):
        cell.fill = fills[key]
    for c in info[len(rows)]:
        c.font, c.fill = bold, fills["header"]

    for p in doc.pages:
        for t in p.tables:
            ws = wb.create_sheet(_sheet_name(t.id, taken))
            _append(info, [ws.title, t.id, p.page, t.title or "", t.kind_name or t.kind or "", t.unit or "", t.n_rows,
                         t.n_cols, t.continued_from or ""])
            info.cell(info.max_row, 1).hyperlink = f"#'{ws.title}'!A1"
            for c in t.cells:
                xc = _text_cell(ws, c.row + 1, c.col + 1, c.text)
                xc.alignment = Alignment(wrap_text=True, vertical="center")
                mark(xc, c.confidence, c.checks, c.source, c.reviewed)
                if c.rowspan > 1 or c.colspan > 1:
                    ws.merge_cells(start_row=c.row + 1, start_column=c.col + 1,
                                   end_row=c.row + c.rowspan, end_column=c.col + c.colspan)
            for k in range(t.n_cols):
                longest = max((len(c.text) for c in t.cells if c.col == k and c.colspan == 1), default=4)
                ws.column_dimensions[get_column_letter(k + 1)].width = min(60, max(8, 2 * longest + 2))
    info.column_dimensions["A"].width = 18
    info.column_dimensions["B"].width = 40

    ws = wb.create_sheet("KPI")
    _append(ws, KPI_COLUMNS)
    for c in ws[1]:
        c.font, c.fill = bold, fills["header"]
    value_col = KPI_COLUMNS.index("value") + 1
    for i, k in enumerate(doc.kpis, start=2):
        for j, v in enumerate(_kpi_row(k), start=1):
            _text_cell(ws, i, j, v)
        mark(ws.cell(i, value_col), k.confidence, [], k.source, k.reviewed)
    wb.save(out)


def xlsx_bytes(doc: Document, below: float = LOW_CONFIDENCE) -> bytes:
    buf = io.BytesIO()
    write_xlsx(doc, buf, below)
    return buf.getvalue()


def json_schema() -> str:
    return json.dumps(Document.model_json_schema(), ensure_ascii=False, indent=1)


__all__ = ["CELL_COLUMNS", "KPI_COLUMNS", "LOW_CONFIDENCE", "cell_rows", "cells_csv", "json_schema", "kpi_csv",
           "kpi_rows", "read_json", "table_csv", "write_cells_csv", "write_csvs", "write_json", "write_kpi_csv",
           "write_xlsx", "xlsx_bytes"]
