"""The typed document model every stage reads and writes.

The JSON written by ``extractor extract`` is ``Document.model_dump_json()``; its schema is
versioned by ``SCHEMA_VERSION`` and documented in ``docs/schema.md`` (and can be printed with
``extractor schema``). Boxes are ``[x0, y0, x1, y1]`` in pixels of the *cleaned* page image
(upright and deskewed) whose ``width``/``height`` the page carries; ``Page.transform`` says how
that image was obtained from the raster of the source page.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, Field, field_validator

SCHEMA_VERSION = "1.5"

BBox = list[float]  # [x0, y0, x1, y1]


class Failure(BaseModel):
    """A stage that failed on one page (or the whole document) records this and work goes on."""

    stage: str
    category: str
    message: str
    page: Optional[int] = None


class OcrEvidence(BaseModel):
    """What the recogniser said about a piece of text."""

    mean_prob: float = 1.0
    min_prob: float = 1.0
    n_chars: int = 0
    n_lines: int = 0
    char_probs: list[float] = Field(default_factory=list)
    ink: Optional[float] = None  # fraction of ink pixels inside the cell (cells only)
    dropped: float = 0.0  # the surest probability among marks removed as specks (0: none removed)
    # the surest character the recogniser left out (a blank-decoded frame's best other character):
    # between the characters read, and before the first or after the last
    missed: float = 0.0
    missed_edge: float = 0.0
    # doubt that the text accounts for the cell's ink (a stroke against the rule that may be a
    # "1" or ruling, marks seen but read as nothing): caps the confidence (confidence.unsure_cap)
    unsure: float = 0.0


class StructureEvidence(BaseModel):
    """How well the cell's borders were supported by ruling lines on the page."""

    borders_seen: float = 1.0  # fraction of the cell's 4 edges covered by real lines
    span_inferred: bool = False  # span taken from text alignment rather than lines
    source: Literal["lines", "text"] = "lines"
    # a grid built from text: pieces of text standing side by side, apart, inside this one cell
    # (two columns the alignment could not tell apart); None on ruled grids
    pieces: Optional[int] = None


class Cell(BaseModel):
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1
    bbox: BBox
    text: str = ""
    confidence: float = 0.0
    ocr: Optional[OcrEvidence] = None
    structure: StructureEvidence = Field(default_factory=StructureEvidence)
    checks: list[str] = Field(default_factory=list)  # "+row_sum" satisfied, "-code_hierarchy" broken
    source: Literal["ocr", "review"] = "ocr"  # "review": the text is a reviewer's correction (confidence 1.0)
    reviewed: bool = False  # a reviewer accepted or corrected it


class Table(BaseModel):
    id: str  # "p{page}-t{index}", unique in the document
    bbox: BBox
    n_rows: int
    n_cols: int
    cells: list[Cell] = Field(default_factory=list)
    continued_from: Optional[str] = None  # id of the table fragment on the previous page
    continues_to: Optional[str] = None
    title: Optional[str] = None  # the table's title line above it ("2023年预算支出总表"); continuations inherit it
    kind: Optional[str] = None  # standard table type id (t01_… t13_…, kpi_project, kpi_department, other)
    kind_name: Optional[str] = None  # its Chinese name
    unit: Optional[str] = None  # "万元" from the 单位 line above the table
    department: Optional[str] = None  # from the 部门名称 line above the table
    source: Literal["lines", "layout", "text"] = "lines"
    col_edges: list[float] = Field(default_factory=list)  # x of each column boundary, n_cols + 1
    # "pdf": the cells' text is the PDF's own text layer (no OCR; textlayer/); None: read by OCR
    text_source: Optional[Literal["pdf"]] = None

    def slot_map(self) -> dict[tuple[int, int], "Cell"]:
        """(row, col) of every grid slot -> the cell covering it (a merged cell covers several)."""
        out = {}
        for c in self.cells:
            for r in range(c.row, c.row + c.rowspan):
                for k in range(c.col, c.col + c.colspan):
                    out[(r, k)] = c
        return out

    def grid(self, fill_merged: bool = False) -> list[list[str]]:
        """Rows x cols of text; a merged cell's text sits in its top-left slot (or, with
        ``fill_merged``, in every slot it covers)."""
        g = [["" for _ in range(self.n_cols)] for _ in range(self.n_rows)]
        for (r, k), c in self.slot_map().items():
            if r < self.n_rows and k < self.n_cols and (fill_merged or (r, k) == (c.row, c.col)):
                g[r][k] = c.text
        return g


class Paragraph(BaseModel):
    bbox: BBox
    text: str
    confidence: float = 0.0
    kind: Literal["text", "title"] = "text"
    ocr: Optional[OcrEvidence] = None


class Region(BaseModel):
    kind: str  # table, text, title, figure, header, footer, ...
    bbox: BBox
    score: float = 1.0
    source: Literal["layout", "lines", "text"] = "layout"


class Transform(BaseModel):
    """How the page image the boxes refer to was made from the source raster:
    first rotated clockwise by ``rotation`` degrees (0/90/180/270), then deskewed by rotating
    ``skew`` degrees (counter-clockwise positive, OpenCV convention) about the centre, canvas kept."""

    source_width: int
    source_height: int
    rotation: int = 0
    skew: float = 0.0


class Page(BaseModel):
    page: int  # 1-based
    width: int
    height: int
    dpi: Optional[float] = None
    transform: Optional[Transform] = None
    text_layer: bool = False  # True when the PDF's own text layer was used (text_source "pdf" or "mixed")
    # where the page's text came from: "pdf" its text layer, "ocr" its pixels, "mixed" both; None for
    # an image file's page. ``text_source_reason`` says why (why a layer was not trusted)
    text_source: Optional[Literal["pdf", "ocr", "mixed"]] = None
    text_source_reason: Optional[str] = None
    regions: list[Region] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    paragraphs: list[Paragraph] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    seconds: Optional[float] = None
    # the page's measured ink contrast (paper minus ink level, grey levels 0-255; extractor/enhance.py),
    # before any enhancement: faint text is evidence a read may be wrong. None when not measured
    ink_contrast: Optional[float] = None
    # what the enhancement measured and whether it was applied ({"applied": .., "contrast": ..,
    # "uneven": .., "paper": .., "ink": .., "noise": .., "ink_share": .., "reasons": [..]})
    enhanced: Optional[dict] = None


class KpiTarget(BaseModel):
    """A parsed 指标值: "≥98%" -> numeric ≥ 98 %; "2024年8月至10月" -> period; "及时" -> qualitative."""

    kind: Literal["numeric", "date", "period", "qualitative", "empty"]
    comparator: Optional[str] = None
    value: Optional[float] = None
    unit: Optional[str] = None
    value_yuan: Optional[float] = None
    date_from: Optional[str] = None
    date_to: Optional[str] = None
    text: str = ""
    issues: list[str] = Field(default_factory=list)


class KpiRecord(BaseModel):
    """One indicator row of a KPI table, for one period."""

    project: str
    period: Literal["实施期", "年度"]
    level1: str
    level2: str
    level3: str
    value: str
    target: KpiTarget
    confidence: float
    table_id: str  # the table fragment and row the record was read from
    row: int
    notes: list[str] = Field(default_factory=list)  # what the levels vote found (filled, disagreed)
    source: Literal["ocr", "review"] = "ocr"  # "review": a reviewer corrected one of its fields (confidence 1.0)
    reviewed: bool = False  # a reviewer accepted or corrected it


class Project(BaseModel):
    """The upper part of a project KPI table. Fund amounts in 元 (实施期 / 年度)."""

    table_id: str
    page: int
    name: Optional[str] = None
    department: Optional[str] = None  # 主管部门及代码, e.g. "015-某某县对外交流服务中心"
    implementer: Optional[str] = None  # 实施单位
    attribute: Optional[str] = None  # 项目属性
    period: Optional[str] = None  # 项目期
    overview: Optional[str] = None  # 项目概况
    basis: Optional[str] = None  # 立项依据
    funds_period: dict[str, Optional[float]] = Field(default_factory=dict)  # total/central/provincial/local/self_raised/other
    funds_year: dict[str, Optional[float]] = Field(default_factory=dict)


class Check(BaseModel):
    """One arithmetic invariant applied to extracted values (see extractor/validate.py)."""

    name: str
    ok: bool
    detail: str
    cells: list[str] = Field(default_factory=list)  # "table_id:row:col" of every cell it covers


def stored_name(name: str) -> str:
    """A file name as it is stored and shown. The OS gives the bytes of a name that are not UTF-8 as
    lone surrogates ("bad\\udcff.pdf"), which no database, JSON or terminal takes; each such byte is
    written as \\xNN ("bad\\xff.pdf"), and a name that is UTF-8 is kept as it is. The file is
    opened by its real path; this form is what the output, the store and the messages carry."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class Document(BaseModel):
    schema_version: str = SCHEMA_VERSION
    source: str

    @field_validator("source")
    @classmethod
    def _source_storable(cls, v: str) -> str:
        return stored_name(v)
    n_pages: int = 0  # pages in the source file (not all may have been processed)
    pages: list[Page] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    extractor_version: str = ""
    projects: list[Project] = Field(default_factory=list)
    kpis: list[KpiRecord] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)

    def tables(self) -> list[Table]:
        return [t for p in self.pages for t in p.tables]

    # ---- exports (extractor/export.py): text, or written to ``path`` when one is given
    def to_json(self, path: Optional[Union[str, Path]] = None) -> str:
        """The whole document as JSON (the schema of docs/schema.md)."""
        text = self.model_dump_json(indent=1)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_csv(self, path: Optional[Union[str, Path]] = None, what: str = "cells") -> str:
        """Every cell (``what="cells"``: one row each, with confidence and checks) or every KPI
        record (``what="kpis"``) as CSV; text a spreadsheet would evaluate is made inert."""
        from . import export

        text, write = {"cells": (export.cells_csv, export.write_cells_csv),
                       "kpis": (export.kpi_csv, export.write_kpi_csv)}[what]
        if path is not None:
            write(self, path)
        return text(self)

    def to_excel(self, path: Union[str, Path]) -> Path:
        """One sheet per table plus the KPI records, low-confidence cells coloured for review."""
        from . import export

        export.write_xlsx(self, path)
        return Path(path)
