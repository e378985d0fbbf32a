"""The archive for analysis: Parquet tables of documents, pages, tables, cells, KPI records and
projects, each with its confidence and review status, written from the store as it is now (reviewed
values in place), and the HTML report (``report.py``) from the same pass.

    export_archive(store, parquet_dir="out/parquet", report_path="out/archive.html")

Every table carries ``document_id`` (the store's id) and ``source_name``; ``needs_review`` follows the
store's review queue: not yet reviewed, and (``policy.needs_review``) confidence under the review
threshold (``policy.REVIEW_BELOW`` unless ``below`` is given) or (cells) breaking an arithmetic check.
Columns are typed and present even when a table has no rows.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq

from ..model import Document
from ..store import Store
from ..store.convert import BENIGN_FAILURES, page_status
from ..policy import REVIEW_BELOW, check_failed as _check_failed, needs_review

_S, _I, _F, _B = pa.string(), pa.int32(), pa.float64(), pa.bool_()
_L = pa.list_(pa.string())
_TS = pa.timestamp("us", tz="UTC")
_BOX = [("x0", _F), ("y0", _F), ("x1", _F), ("y1", _F)]
FUND_KEYS = ("total", "central", "provincial", "local", "self_raised", "other")

SCHEMAS: dict[str, pa.Schema] = {
    "documents": pa.schema([
        ("document_id", pa.int64()), ("content_hash", _S), ("source", _S), ("source_name", _S), ("status", _S),
        ("n_pages", _I), ("pages_failed", _I), ("n_tables", _I), ("n_cells", _I), ("mean_cell_confidence", _F),
        ("cells_low_confidence", _I), ("low_confidence_share", _F), ("cells_check_failed", _I), ("n_kpis", _I),
        ("kpis_low_confidence", _I), ("n_projects", _I), ("checks", _I), ("checks_failed", _I),
        ("cells_reviewed", _I), ("cells_corrected", _I), ("kpis_reviewed", _I), ("kpis_corrected", _I),
        ("needs_review", _I), ("review_done_share", _F), ("failures", _L), ("extractor_version", _S),
        ("schema_version", _S), ("created_at", _TS), ("updated_at", _TS)]),
    "pages": pa.schema([
        ("document_id", pa.int64()), ("source_name", _S), ("page", _I), ("status", _S), ("width", _I),
        ("height", _I), ("dpi", _F), ("rotation", _I), ("skew", _F), ("seconds", _F), ("n_tables", _I),
        ("n_paragraphs", _I), ("failures", _L)]),
    "tables": pa.schema([
        ("document_id", pa.int64()), ("source_name", _S), ("page", _I), ("table_id", _S), ("kind", _S),
        ("kind_name", _S), ("title", _S), ("unit", _S), ("department", _S), ("source", _S), ("n_rows", _I),
        ("n_cols", _I), ("n_cells", _I), ("continued_from", _S), ("continues_to", _S), ("mean_confidence", _F),
        ("min_confidence", _F), ("cells_low_confidence", _I), ("cells_check_failed", _I), ("cells_reviewed", _I),
        ("cells_corrected", _I), ("needs_review", _I), *_BOX]),
    "cells": pa.schema([
        ("document_id", pa.int64()), ("source_name", _S), ("page", _I), ("table_id", _S), ("table_kind", _S),
        ("unit", _S), ("row", _I), ("col", _I), ("rowspan", _I), ("colspan", _I), ("text", _S), ("confidence", _F),
        ("ocr_mean_prob", _F), ("ocr_min_prob", _F), ("n_chars", _I), ("n_lines", _I), ("borders_seen", _F),
        ("span_inferred", _B), ("checks", _L), ("check_failed", _B), ("reviewed", _B), ("corrected", _B),
        ("needs_review", _B), *_BOX]),
    "kpis": pa.schema([
        ("document_id", pa.int64()), ("source_name", _S), ("ord", _I), ("project", _S), ("period", _S),
        ("level1", _S), ("level2", _S), ("level3", _S), ("value", _S), ("target_kind", _S), ("comparator", _S),
        ("target_value", _F), ("target_unit", _S), ("value_yuan", _F), ("date_from", _S), ("date_to", _S),
        ("target_issues", _L), ("confidence", _F), ("table_id", _S), ("row", _I), ("notes", _L),
        ("reviewed", _B), ("corrected", _B), ("needs_review", _B)]),
    "projects": pa.schema([
        ("document_id", pa.int64()), ("source_name", _S), ("ord", _I), ("table_id", _S), ("page", _I), ("name", _S),
        ("department", _S), ("implementer", _S), ("attribute", _S), ("period", _S), ("overview", _S), ("basis", _S),
        *[(f"funds_period_{k}", _F) for k in FUND_KEYS], *[(f"funds_year_{k}", _F) for k in FUND_KEYS]]),
}


class _Sink:
    """Rows of one Parquet file, written in row groups as they come."""

    def __init__(self, path: Path, schema: pa.Schema, chunk: int = 50_000):
        self.path, self.schema, self.chunk = path, schema, chunk
        self.rows: list[dict[str, Any]] = []
        self.writer: Optional[pq.ParquetWriter] = None
        self.n = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.n += len(self.rows)
            self.rows = []

    def close(self) -> None:
        self.flush()
        assert self.writer is not None
        self.writer.close()


def _failure_text(f) -> str:
    return f"{f.stage}/{f.category}: {f.message}" + (f" (page {f.page})" if f.page else "")


def _box(bbox) -> dict[str, float]:
    b = list(bbox) + [None] * (4 - len(bbox))
    return {"x0": b[0], "y0": b[1], "x1": b[2], "y1": b[3]}


def document_rows(info, doc: Optional[Document], marks, below: float = REVIEW_BELOW) -> dict[str, list[dict]]:
    """The rows of one stored document for every table (``doc`` None: not extracted yet)."""
    name = info.source_name
    base = {"document_id": info.id, "source_name": name}
    out: dict[str, list[dict]] = {k: [] for k in SCHEMAS}
    drow: dict[str, Any] = {
        "document_id": info.id, "content_hash": info.content_hash, "source": info.source, "source_name": name,
        "status": info.status, "n_pages": info.n_pages, "extractor_version": info.extractor_version,
        "schema_version": info.schema_version, "created_at": info.created_at, "updated_at": info.updated_at,
        "failures": []}
    if doc is None:
        out["documents"].append(drow)
        return out
    cell_marks, kpi_marks = (marks.cells, marks.kpis) if marks is not None else ({}, {})
    n_cells = low = check_failed = reviewed = corrected = queue = 0
    conf_sum = 0.0
    for p in doc.pages:
        tr = p.transform
        out["pages"].append({**base, "page": p.page, "status": page_status(p), "width": p.width, "height": p.height,
                             "dpi": p.dpi, "rotation": tr.rotation if tr else None, "skew": tr.skew if tr else None,
                             "seconds": p.seconds, "n_tables": len(p.tables), "n_paragraphs": len(p.paragraphs),
                             "failures": [_failure_text(f) for f in p.failures]})
        for t in p.tables:
            t_low = t_failed = t_rev = t_cor = t_queue = 0
            confs = []
            for c in t.cells:
                ref = f"{t.id}:{c.row}:{c.col}"
                mark = cell_marks.get(ref)
                broken = _check_failed(c.checks)
                needs = mark is None and needs_review(c.confidence, c.checks, below)
                ev, st = c.ocr, c.structure
                out["cells"].append({
                    **base, "page": p.page, "table_id": t.id, "table_kind": t.kind, "unit": t.unit, "row": c.row,
                    "col": c.col, "rowspan": c.rowspan, "colspan": c.colspan, "text": c.text,
                    "confidence": c.confidence, "ocr_mean_prob": ev.mean_prob if ev else None,
                    "ocr_min_prob": ev.min_prob if ev else None, "n_chars": ev.n_chars if ev else len(c.text),
                    "n_lines": ev.n_lines if ev else None, "borders_seen": st.borders_seen,
                    "span_inferred": st.span_inferred, "checks": list(c.checks), "check_failed": broken,
                    "reviewed": mark is not None, "corrected": mark == "review", "needs_review": needs,
                    **_box(c.bbox)})
                confs.append(c.confidence)
                t_low += c.confidence < below
                t_failed += broken
                t_rev += mark is not None
                t_cor += mark == "review"
                t_queue += needs
            out["tables"].append({
                **base, "page": p.page, "table_id": t.id, "kind": t.kind, "kind_name": t.kind_name, "title": t.title,
                "unit": t.unit, "department": t.department, "source": t.source, "n_rows": t.n_rows,
                "n_cols": t.n_cols, "n_cells": len(t.cells), "continued_from": t.continued_from,
                "continues_to": t.continues_to, "mean_confidence": sum(confs) / len(confs) if confs else None,
                "min_confidence": min(confs) if confs else None, "cells_low_confidence": t_low,
                "cells_check_failed": t_failed, "cells_reviewed": t_rev, "cells_corrected": t_cor,
                "needs_review": t_queue, **_box(t.bbox)})
            n_cells += len(confs)
            conf_sum += sum(confs)
            low, check_failed, reviewed, corrected, queue = (low + t_low, check_failed + t_failed, reviewed + t_rev,
                                                             corrected + t_cor, queue + t_queue)
    k_low = k_rev = k_cor = 0
    for i, k in enumerate(doc.kpis):
        mark = kpi_marks.get(f"{k.table_id}:{k.row}:{k.period}")
        needs = mark is None and needs_review(k.confidence, (), below)
        tg = k.target
        out["kpis"].append({
            **base, "ord": i, "project": k.project, "period": k.period, "level1": k.level1, "level2": k.level2,
            "level3": k.level3, "value": k.value, "target_kind": tg.kind, "comparator": tg.comparator,
            "target_value": tg.value, "target_unit": tg.unit, "value_yuan": tg.value_yuan, "date_from": tg.date_from,
            "date_to": tg.date_to, "target_issues": list(tg.issues), "confidence": k.confidence,
            "table_id": k.table_id, "row": k.row, "notes": list(k.notes), "reviewed": mark is not None,
            "corrected": mark == "review", "needs_review": needs})
        k_low += k.confidence < below
        k_rev += mark is not None
        k_cor += mark == "review"
        queue += needs
    for i, pj in enumerate(doc.projects):
        out["projects"].append({
            **base, "ord": i, "table_id": pj.table_id, "page": pj.page, "name": pj.name, "department": pj.department,
            "implementer": pj.implementer, "attribute": pj.attribute, "period": pj.period, "overview": pj.overview,
            "basis": pj.basis, **{f"funds_period_{k}": pj.funds_period.get(k) for k in FUND_KEYS},
            **{f"funds_year_{k}": pj.funds_year.get(k) for k in FUND_KEYS}})
    done = reviewed + k_rev
    drow.update(
        pages_failed=sum(page_status(p) == "failed" for p in doc.pages), n_tables=len(doc.tables()), n_cells=n_cells,
        mean_cell_confidence=conf_sum / n_cells if n_cells else None, cells_low_confidence=low,
        low_confidence_share=low / n_cells if n_cells else None, cells_check_failed=check_failed,
        n_kpis=len(doc.kpis), kpis_low_confidence=k_low, n_projects=len(doc.projects), checks=len(doc.checks),
        checks_failed=sum(not c.ok for c in doc.checks), cells_reviewed=reviewed, cells_corrected=corrected,
        kpis_reviewed=k_rev, kpis_corrected=k_cor, needs_review=queue,
        review_done_share=1.0 if done + queue == 0 else done / (done + queue),
        failures=[_failure_text(f) for f in doc.failures]
        + [_failure_text(f) for p in doc.pages for f in p.failures if f.category not in BENIGN_FAILURES])
    out["documents"].append(drow)
    return out


def export_archive(store: Store, parquet_dir: Optional[str | Path] = None, report_path: Optional[str | Path] = None,
                   below: float = REVIEW_BELOW) -> dict[str, str]:
    """Write the Parquet tables into ``parquet_dir`` and/or the HTML report to ``report_path``, from
    one pass over the stored documents. Returns what was written (name -> path)."""
    from .report import ReportData, write_report

    sinks: dict[str, _Sink] = {}
    if parquet_dir:
        d = Path(parquet_dir)
        d.mkdir(parents=True, exist_ok=True)
        sinks = {name: _Sink(d / f"{name}.parquet", schema) for name, schema in SCHEMAS.items()}
    data = ReportData(below=below) if report_path else None
    for info in store.list_documents():
        doc = marks = None
        if info.status != "pending":
            doc = store.load_document(info.id)
            marks = store.review_marks(info.id)
        rows = document_rows(info, doc, marks, below)
        for name, rs in rows.items():
            if name in sinks:
                for r in rs:
                    sinks[name].add(r)
        if data is not None:
            data.add(info, doc, rows)
    written: dict[str, str] = {}
    for name, sink in sinks.items():
        sink.close()
        written[f"parquet {name}"] = str(sink.path)
    if data is not None and report_path:
        written["report"] = str(write_report(store, data, report_path))
    return written
