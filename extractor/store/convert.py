"""Document <-> rows. Each pydantic object becomes one row: the fields named here as columns, every
other field (and any added to the model later) in the row's ``extra`` JSON; children get rows of
their own. ``document_from_rows(document_to_rows(doc))`` equals ``doc``."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from pydantic import BaseModel

from ..model import Cell, Document, KpiRecord, Page, Project, Table
from ..policy import check_failed
from .schema import CellRow, DocumentRow, KpiRow, PageRow, ProjectRow, TableRow

# failure categories that do not make a page failed (a blank page, a table read by text alignment)
BENIGN_FAILURES = frozenset({"empty_page", "text_fallback"})

# model field -> column, per model (the rest goes to ``extra``)
DOC_COLS = ("source", "n_pages", "schema_version", "extractor_version")
PAGE_COLS = ("page", "width", "height", "seconds", "failures")
TABLE_COLS = {"id": "table_id", "n_rows": "n_rows", "n_cols": "n_cols", "bbox": "bbox", "kind": "kind",
              "title": "title", "unit": "unit", "continued_from": "continued_from", "continues_to": "continues_to"}
CELL_COLS = ("row", "col", "rowspan", "colspan", "bbox", "text", "confidence", "checks", "source", "reviewed")
KPI_COLS = ("project", "period", "level1", "level2", "level3", "value", "target", "confidence", "table_id", "row",
            "notes", "source", "reviewed")
PROJECT_COLS = ("table_id", "page", "name", "department")


def _split(obj: BaseModel, cols: Sequence[str],
           children: frozenset[str] = frozenset()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(columns, extra) of a pydantic object, JSON-ready."""
    data = obj.model_dump(mode="json", exclude=set(children))
    return {c: data.pop(c) for c in cols}, data


def page_status(page: Page) -> str:
    return "failed" if any(f.category not in BENIGN_FAILURES for f in page.failures) else "done"


def document_status(doc: Document) -> str:
    statuses = [page_status(p) for p in doc.pages]
    if statuses and all(s == "failed" for s in statuses):
        return "failed"
    return "partial" if "failed" in statuses else "done"


@dataclass
class TableRows:
    table: dict[str, Any]
    cells: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PageRows:
    page: dict[str, Any]
    tables: list[TableRows] = field(default_factory=list)


@dataclass
class DocumentRows:
    """Column values of every row of a document (no ids or foreign keys yet)."""

    document: dict[str, Any]
    pages: list[PageRows]
    kpis: list[dict[str, Any]]
    projects: list[dict[str, Any]]


def document_to_rows(doc: Document) -> DocumentRows:
    cols, extra = _split(doc, DOC_COLS, frozenset({"pages", "kpis", "projects"}))
    drow = {**cols, "source_name": os.path.basename(doc.source)[:255], "status": document_status(doc), "extra": extra}
    pages = []
    for p in doc.pages:
        cols, extra = _split(p, PAGE_COLS, frozenset({"tables"}))
        pr = PageRows({**cols, "status": page_status(p), "extra": extra})
        for ti, t in enumerate(p.tables):
            tcols, textra = _split(t, tuple(TABLE_COLS), frozenset({"cells"}))
            tr = TableRows({**{TABLE_COLS[k]: v for k, v in tcols.items()}, "page": p.page, "ord": ti, "extra": textra})
            for ci, c in enumerate(t.cells):
                ccols, cextra = _split(c, CELL_COLS)
                tr.cells.append({**ccols, "page": p.page, "table_id": t.id, "ord": ci,
                                 "check_failed": check_failed(c.checks), "extra": cextra})
            pr.tables.append(tr)
        pages.append(pr)
    kpis = []
    for i, k in enumerate(doc.kpis):
        cols, extra = _split(k, KPI_COLS)
        kpis.append({**cols, "ord": i, "extra": extra})
    projects = []
    for i, pj in enumerate(doc.projects):
        cols, extra = _split(pj, PROJECT_COLS)
        projects.append({**cols, "ord": i, "extra": extra})
    return DocumentRows(drow, pages, kpis, projects)


def _get(row: Any, cols: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(row, c) for c in cols}


def cell_from_row(row: CellRow) -> Cell:
    return Cell.model_validate({**row.extra, **_get(row, CELL_COLS)})


def kpi_from_row(row: KpiRow) -> KpiRecord:
    return KpiRecord.model_validate({**row.extra, **_get(row, KPI_COLS)})


def document_from_rows(doc: DocumentRow, pages: Sequence[PageRow], tables: Sequence[TableRow],
                       cells: Sequence[CellRow], kpis: Sequence[KpiRow], projects: Sequence[ProjectRow]) -> Document:
    """The Document of these rows (each sequence in any order)."""
    cells_of: dict[int, list[CellRow]] = {}
    for c in cells:
        cells_of.setdefault(c.table_pk, []).append(c)
    tables_of: dict[int, list[TableRow]] = {}
    for t in tables:
        tables_of.setdefault(t.page_id, []).append(t)
    out_pages = []
    for p in sorted(pages, key=lambda r: r.page):
        if p.status == "pending":  # registered, not processed
            continue
        out_tables = []
        for t in sorted(tables_of.get(p.id, []), key=lambda r: r.ord):
            data = {**t.extra, **{k: getattr(t, col) for k, col in TABLE_COLS.items()}}
            data["cells"] = [cell_from_row(c) for c in sorted(cells_of.get(t.id, []), key=lambda r: r.ord)]
            out_tables.append(Table.model_validate(data))
        out_pages.append(Page.model_validate({**p.extra, **_get(p, PAGE_COLS), "tables": out_tables}))
    return Document.model_validate({
        **doc.extra, **_get(doc, DOC_COLS), "pages": out_pages,
        "kpis": [kpi_from_row(k) for k in sorted(kpis, key=lambda r: r.ord)],
        "projects": [Project.model_validate({**r.extra, **_get(r, PROJECT_COLS)})
                     for r in sorted(projects, key=lambda r: r.ord)],
    })



