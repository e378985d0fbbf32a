"""The typed document model every stage reads and writes.

The JSON written by ``extractor extract`` is ``Document.model_dump_json()``; its schema is
versioned by ``SCHEMA_VERSION`` and documented in ``docs/schema.md`` (and can be printed with
``extractor schema``). Boxes are ``[x0, y0, x1, y1]`` in pixels of the *cleaned* page image
(upright and deskewed) whose ``width``/``height`` the page carries; ``Page.transform`` says how
that image was obtained from the raster of the source page.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

SCHEMA_VERSION = "1.0"

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


class StructureEvidence(BaseModel):
    """How well the cell's borders were supported by ruling lines on the page."""

    borders_seen: float = 1.0  # fraction of the cell's 4 edges covered by real lines
    span_inferred: bool = False  # span taken from text alignment rather than lines
    source: Literal["lines", "text"] = "lines"


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


class Table(BaseModel):
    id: str  # "p{page}-t{index}", unique in the document
    bbox: BBox
    n_rows: int
    n_cols: int
    cells: list[Cell] = Field(default_factory=list)
    continued_from: Optional[str] = None  # id of the table fragment on the previous page
    continues_to: Optional[str] = None
    title: Optional[str] = None  # text line just above the table, if any
    source: Literal["lines", "layout", "text"] = "lines"
    col_edges: list[float] = Field(default_factory=list)  # x of each column boundary, n_cols + 1

    def grid(self) -> list[list[str]]:
        """Rows x cols of text; a merged cell's text sits at its top-left slot."""
        g = [["" for _ in range(self.n_cols)] for _ in range(self.n_rows)]
        for c in self.cells:
            g[c.row][c.col] = c.text
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
    text_layer: bool = False  # True when the PDF's own text layer was used
    regions: list[Region] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)
    paragraphs: list[Paragraph] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    seconds: Optional[float] = None


class Document(BaseModel):
    schema_version: str = SCHEMA_VERSION
    source: str
    n_pages: int = 0  # pages in the source file (not all may have been processed)
    pages: list[Page] = Field(default_factory=list)
    failures: list[Failure] = Field(default_factory=list)
    extractor_version: str = ""

    def tables(self) -> list[Table]:
        return [t for p in self.pages for t in p.tables]
