"""Exports of a Document: the versioned JSON, and one CSV per table."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .model import Document


def write_json(doc: Document, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc.model_dump_json(indent=1), encoding="utf-8")
    return p


def read_json(path: str | Path) -> Document:
    return Document.model_validate_json(Path(path).read_text(encoding="utf-8"))


def write_csvs(doc: Document, out_dir: str | Path, fill_merged: bool = False) -> list[Path]:
    """One UTF-8 (with BOM, so spreadsheet programs read the Chinese) CSV per table:
    ``<stem>_p<page>_t<index>.csv``, and ``<stem>_kpis.csv`` with the KPI records."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    stem = Path(doc.source).stem
    paths = []
    for page in doc.pages:
        for i, t in enumerate(page.tables):
            p = d / f"{stem}_p{page.page}_t{i}.csv"
            with open(p, "w", newline="", encoding="utf-8-sig") as f:
                csv.writer(f).writerows(t.grid(fill_merged))
            paths.append(p)
    if doc.kpis:
        paths.append(write_kpi_csv(doc, d / f"{stem}_kpis.csv"))
    return paths


KPI_COLUMNS = ["project", "period", "level1", "level2", "level3", "value", "comparator", "target_value", "unit",
               "value_yuan", "date_from", "date_to", "target_kind", "confidence", "table_id", "row"]


def write_kpi_csv(doc: Document, path: str | Path) -> Path:
    """The KPI records, one per indicator row and period, targets parsed."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(KPI_COLUMNS)
        for k in doc.kpis:
            t = k.target
            w.writerow([k.project, k.period, k.level1, k.level2, k.level3, k.value, t.comparator or "",
                        "" if t.value is None else t.value, t.unit or "", "" if t.value_yuan is None else t.value_yuan,
                        t.date_from or "", t.date_to or "", t.kind, k.confidence, k.table_id, k.row])
    return p


def json_schema() -> str:
    return json.dumps(Document.model_json_schema(), ensure_ascii=False, indent=1)
