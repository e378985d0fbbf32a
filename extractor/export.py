"""Exports of a Document: the versioned JSON, and one CSV per table."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from .model import Document, Table


def write_json(doc: Document, path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(doc.model_dump_json(indent=1), encoding="utf-8")
    return p


def read_json(path: str | Path) -> Document:
    return Document.model_validate_json(Path(path).read_text(encoding="utf-8"))


def table_rows(t: Table, fill_merged: bool = False) -> list[list[str]]:
    """The table as rows of strings; a merged cell's text sits in its top-left slot
    (or in every slot it covers with ``fill_merged``)."""
    g = [["" for _ in range(t.n_cols)] for _ in range(t.n_rows)]
    for c in t.cells:
        rows = range(c.row, c.row + c.rowspan) if fill_merged else [c.row]
        cols = range(c.col, c.col + c.colspan) if fill_merged else [c.col]
        for r in rows:
            for k in cols:
                if r < t.n_rows and k < t.n_cols:
                    g[r][k] = c.text
    return g


def write_csvs(doc: Document, out_dir: str | Path, fill_merged: bool = False) -> list[Path]:
    """One UTF-8 (with BOM, so spreadsheet programs read the Chinese) CSV per table:
    ``<stem>_p<page>_t<index>.csv``."""
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    stem = Path(doc.source).stem
    paths = []
    for page in doc.pages:
        for i, t in enumerate(page.tables):
            p = d / f"{stem}_p{page.page}_t{i}.csv"
            with open(p, "w", newline="", encoding="utf-8-sig") as f:
                csv.writer(f).writerows(table_rows(t, fill_merged))
            paths.append(p)
    return paths


def json_schema() -> str:
    return json.dumps(Document.model_json_schema(), ensure_ascii=False, indent=1)
