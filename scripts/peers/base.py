"""What every peer adapter shares: the interface, page images from a source file, text boxes,
and the conversion of a (row, col, span) grid into ``extractor.model`` cells.

A peer turns a list of page images (greyscale or BGR uint8 arrays, one per page, in the raster
the pipeline itself starts from) into a ``Document`` the scorer reads: pages with their size and
seconds, tables with a box and cells carrying row / col / spans / text / confidence.

Confidence: ``Cell.confidence`` is a float in the model, so a peer that gives no score for a cell
leaves ``cell.ocr`` as None and puts ``NO_SCORE`` (1.0: the tool asserts its output without
doubt) in ``confidence``. Cells with OCR scores carry them in ``cell.ocr`` as well.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from extractor.model import Cell, Document, OcrEvidence, Page, StructureEvidence, Table

NO_SCORE = 1.0


class PeerUnavailable(RuntimeError):
    """The peer's package, model or binary is not installed here (the message says which)."""


class Peer:
    name: str = "peer"
    description: str = ""
    table_source: str = "lines"  # Table.source for its tables

    def extract_page(self, image: np.ndarray, page_no: int) -> Page:  # pragma: no cover - abstract
        raise NotImplementedError

    def extract(self, images: Sequence[np.ndarray], source: str = "", first_page: int = 1) -> Document:
        """One Document from page images (page numbers ``first_page``, ``first_page + 1``, ...)."""
        pages = []
        for i, img in enumerate(images):
            t0 = time.perf_counter()
            page = self.extract_page(img, first_page + i)
            if page.seconds is None:
                page.seconds = time.perf_counter() - t0
            pages.append(page)
        return Document(source=source, n_pages=len(pages), pages=pages, extractor_version=f"peer:{self.name}")

    def extract_file(self, path: str | Path, dpi: float = 200.0, pages: Optional[str] = None) -> Document:
        """Render a PDF or image file the way the pipeline does (extractor.ingest) and extract it.
        Page seconds include only the peer's own work, not the rendering."""
        from extractor import ingest

        src = ingest.open_source(path)
        try:
            numbers = ingest.parse_page_range(pages, src.n_pages)
            doc_pages = []
            for n in numbers:
                img = ingest.render_page(src, n, dpi)
                d = self.extract([img.gray], source=str(path), first_page=n)
                d.pages[0].dpi = img.dpi
                doc_pages += d.pages
        finally:
            src.close()
        return Document(source=str(path), n_pages=src.n_pages, pages=doc_pages, extractor_version=f"peer:{self.name}")

    def close(self) -> None:
        """Release worker processes (a no-op for in-process peers)."""


def to_bgr(image: np.ndarray) -> np.ndarray:
    import cv2

    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


@dataclass
class TextBox:
    """One OCR line: axis-aligned box, text, recogniser score."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    score: Optional[float] = None

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    @property
    def bbox(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]


_RAPIDOCR = {}


def rapidocr_engine(threads: int = 0):
    """One RapidOCR per process (models shipped in the rapidocr wheel: PP-OCRv6 small, ch).
    The 180-degree line classifier is off: STACK.md saw it turn '≥500篇' into '50'."""
    import os

    threads = threads or max(1, min(os.cpu_count() or 1, 4))
    if threads not in _RAPIDOCR:
        try:
            from rapidocr import RapidOCR
        except ImportError as e:
            raise PeerUnavailable(f"rapidocr is not installed ({e})") from None
        _RAPIDOCR[threads] = RapidOCR(params={
            "Global.use_cls": False, "Global.log_level": "warning",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })
    return _RAPIDOCR[threads]


def ocr_boxes(engine, image: np.ndarray) -> list[TextBox]:
    """Whole-page detection + recognition -> axis-aligned TextBoxes (4-point boxes flattened)."""
    res = engine(to_bgr(image))
    if res.boxes is None or res.txts is None:
        return []
    out = []
    for box, txt, sc in zip(res.boxes, res.txts, res.scores):
        b = np.asarray(box, dtype=float).reshape(-1, 2)
        if not str(txt).strip():
            continue
        out.append(TextBox(float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 0].max()), float(b[:, 1].max()),
                           str(txt), float(sc)))
    return out


def join_text(boxes: Iterable[TextBox]) -> str:
    """Boxes of one cell in reading order: lines top to bottom, left to right within a line."""
    bs = sorted(boxes, key=lambda b: (b.cy, b.x0))
    lines: list[list[TextBox]] = []
    for b in bs:
        if lines and abs(b.cy - np.mean([x.cy for x in lines[-1]])) < 0.5 * max(b.h, 1.0):
            lines[-1].append(b)
        else:
            lines.append([b])
    return "".join(b.text for ln in lines for b in sorted(ln, key=lambda b: b.x0))


def make_cell(row: int, col: int, rowspan: int, colspan: int, bbox: Sequence[float], text: str,
              scores: Sequence[float] = (), source: str = "lines") -> Cell:
    """A Cell with the tool's OCR scores (min over its lines as confidence), or NO_SCORE."""
    sc = [float(s) for s in scores if s is not None]
    ocr = None
    conf = NO_SCORE
    if sc and text:
        conf = round(min(sc), 4)
        ocr = OcrEvidence(mean_prob=float(np.mean(sc)), min_prob=min(sc), n_chars=len(text), n_lines=len(sc))
    return Cell(row=int(row), col=int(col), rowspan=max(1, int(rowspan)), colspan=max(1, int(colspan)),
                bbox=[float(v) for v in bbox], text=text, confidence=conf, ocr=ocr,
                structure=StructureEvidence(source="lines" if source == "lines" else "text"))


def fill_grid(cells: list[Cell], n_rows: int, n_cols: int, row_y: Sequence[float] = (),
              col_x: Sequence[float] = ()) -> list[Cell]:
    """Add an empty cell for every grid slot no cell covers (the scorer counts empty cells)."""
    covered = set()
    for c in cells:
        for r in range(c.row, c.row + c.rowspan):
            for k in range(c.col, c.col + c.colspan):
                covered.add((r, k))
    out = list(cells)
    for r in range(n_rows):
        for k in range(n_cols):
            if (r, k) not in covered:
                bb = ([col_x[k], row_y[r], col_x[k + 1], row_y[r + 1]]
                      if len(row_y) > r + 1 and len(col_x) > k + 1 else [0.0, 0.0, 0.0, 0.0])
                out.append(make_cell(r, k, 1, 1, bb, ""))
    return sorted(out, key=lambda c: (c.row, c.col))


def make_table(page_no: int, index: int, bbox: Sequence[float], cells: list[Cell], source: str,
               title: Optional[str] = None) -> Table:
    n_rows = max((c.row + c.rowspan for c in cells), default=0)
    n_cols = max((c.col + c.colspan for c in cells), default=0)
    return Table(id=f"p{page_no}-t{index}", bbox=[float(v) for v in bbox], n_rows=n_rows, n_cols=n_cols,
                 cells=cells, source=source, title=title or None)
