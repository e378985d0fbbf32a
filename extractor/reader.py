"""The page reader: one page image in, one Page out. It holds the models (text detector and
recogniser, orientation classifier, layout model) and runs the page stages in order:

1. clean: blank-page test, enhancement of faint scans (enhance.py), orientation and deskew (clean.py);
2. table: ruled grids from the page's rulings (table/grid.py);
3. ocr: text lines outside the grids (ocr/bands.py);
4. layout: the layout model, only where that free text could hold an unruled table (layout/);
5. ocr: one batched recognition of the free lines and every ruled grid's cells (ocr/cells.py);
6. table: grids from text alignment where no ruled grid is (table/unruled.py), then read;
7. tables assembled with each cell's raw confidence (confidence.py), and the free lines grouped
   into paragraphs and titles (layout/paragraphs.py).

A PDF page whose own text layer can be trusted skips all of this: it is built from its characters
and vector rulings (textlayer/), and the page records where its text came from and why.

A failure in one stage is recorded on the page and the page goes on. The document-level stages
(continuations, KPI records, checks, calibration) are the finisher's (finish.py).
"""
from __future__ import annotations

import logging
import time
from typing import Optional

import cv2
import numpy as np

from . import confidence, ingest
from .clean import clean_page
from .config import Settings
from .enhance import enhance_page
from .geometry import inside_frac
from .ingest.sandbox import PageLimitError, RenderSandbox
from .layout import LayoutModel, TextLine, paragraphs, tabular_rows
from .model import Cell, Failure, OcrEvidence, Page, Region, StructureEvidence, Table, Transform
from .ocr.bands import text_lines
from .ocr.cells import CellReader, ReadJob, TextRead
from .ocr.engine import Classifier, Detector, Recognizer
from .ocr.normalize import repair_columns
from .table import GridTable, find_tables
from .table.align import FIGURE
from .table.unruled import unruled_tables
from .textlayer import common_set, judge, page_from_layer, read_layer
from .textlayer.read import read_rulings

log = logging.getLogger(__name__)

# a page that ingest refuses, by ingest.InputError's category
PAGE_INPUT_FAILURES = {"too_large": "page_too_large", "too_small": "page_too_small", "empty": "page_unreadable",
                       "corrupt": "page_unreadable", "missing": "input_error", "unsupported": "input_error",
                       "encrypted": "input_error"}

# the least character probability at which a cell of a text grid that holds no detected line keeps its read
NO_LINE_MIN_PROB = 0.9


class PageReader:
    """Loads the page models once (``threads``: the ONNX sessions' share of the cores)."""

    def __init__(self, settings: Optional[Settings] = None, threads: int = 0):
        self.s = settings or Settings()
        dev = self.s.device
        self.recognizer = Recognizer(dev, threads, batch_size=self.s.rec_batch_size, precision=self.s.rec_precision)
        self.detector = Detector(dev, threads)
        self.classifier = Classifier(dev, threads)
        self.layout = LayoutModel(dev, threads) if self.s.use_layout else None
        self.reader = CellReader(self.recognizer, self.detector)
        self._common = common_set(self.recognizer.chars)  # the characters a sane text layer mostly uses
        # pages are rendered in a helper under OS limits (None: limits off, rendered in this process);
        # callers that render pages again (the service's page images) use the same helper
        self.sandbox: Optional[RenderSandbox] = None
        if self.s.render_timeout > 0 or self.s.render_memory_mb > 0:
            self.sandbox = RenderSandbox(self.s.render_timeout, self.s.render_memory_mb)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()

    def read_score(self, crops: list[np.ndarray]) -> list[tuple[float, int]]:
        """(mean character probability, characters) of each crop read as text: how the orientation
        check (clean.py) judges a turned page."""
        return [(r.mean_prob, len(r.text.strip())) for r in self.recognizer(crops, exact=False)]

    # ------------------------------------------------------------------ pages
    def read(self, src: ingest.Source, n: int, dpi: float) -> Page:
        """Page ``n`` (1-based) of an open source; a page that cannot be rendered comes back with
        its failure recorded."""
        t0 = time.perf_counter()

        def failed(category: str, message: str) -> Page:
            return Page(page=n, width=0, height=0, seconds=round(time.perf_counter() - t0, 3),
                        failures=[Failure(stage="ingest", category=category, message=message, page=n)])

        try:
            if src.kind == "pdf" and self.s.text_layer:
                return self._read_pdf_page(src, n, dpi)
            if self.sandbox is not None:  # in a helper process, under the OS's time and memory limits
                img = self.sandbox.render(src.path, n, dpi)
            else:
                img = ingest.render_page(src, n, dpi)
        except PageLimitError as e:
            log.error("page %d of %s: %s", n, src.path, e.reason)
            return failed(e.category, e.reason)
        except ingest.InputError as e:
            return failed(PAGE_INPUT_FAILURES.get(e.category, "page_unreadable"), e.reason)
        except Exception as e:  # a broken page object must not lose the rest of the document
            return failed("render_error", str(e))
        page = self.read_image(img.gray, n, img.dpi)
        if src.kind == "pdf":
            page.text_source, page.text_source_reason = "ocr", "text layer not used (text_layer: false)"
        return page

    def _read_pdf_page(self, src: ingest.Source, n: int, dpi: float) -> Page:
        """A PDF page from its own text layer when that can be trusted (textlayer.trust), else by
        OCR of the page as printed (sent with the layer when the layer could not be read, rendered
        again when it was but is not trusted)."""
        sb = self.sandbox
        layer = sb.layer(src.path, n, dpi) if sb is not None else read_layer(src, n, dpi)
        gray = (lambda: sb.render(src.path, n, dpi).gray) if sb is not None else \
            (lambda: ingest.render_page(src, n, dpi).gray)
        verdict = judge(layer, self._common)
        if verdict.use:
            rulings = (lambda: sb.rulings(src.path, n, dpi)) if sb is not None else \
                (lambda: read_rulings(src, n, dpi))
            return page_from_layer(layer, n, verdict.reason, self._common,
                                   ocr=lambda grids, failures: self._ocr_grids(gray(), n, grids, failures),
                                   full_rulings=rulings)
        page = self.read_image(layer.gray if layer.gray is not None else gray(), n, layer.dpi)
        page.text_source, page.text_source_reason = "ocr", verdict.reason
        return page

    def read_image(self, gray: np.ndarray, number: int = 1, dpi: Optional[float] = None) -> Page:
        """One page image (grey, as rendered or scanned) through every page stage."""
        t0 = time.perf_counter()
        h0, w0 = gray.shape
        failures: list[Failure] = []
        if float(cv2.meanStdDev(gray)[1][0, 0]) < 2.0:  # blank page: nothing to read
            return Page(page=number, width=w0, height=h0, dpi=dpi,
                        transform=Transform(source_width=w0, source_height=h0),
                        failures=[Failure(stage="clean", category="empty_page", message="page is blank", page=number)],
                        seconds=time.perf_counter() - t0)
        gray, page = self._clean(gray, number, dpi, failures)
        grids: list[GridTable] = []
        try:
            grids = find_tables(gray)  # the ruled grid is the authority; layout boxes only for unruled tables
        except Exception as e:
            failures.append(Failure(stage="table", category="error", message=str(e), page=number))
        masked, boxes = self._free_text(gray, grids, failures, number)
        # the layout model is asked only where it can change the result: an unruled table (the
        # text-alignment fallback below) among the text outside the ruled grids. Its title
        # regions only name paragraphs; without them a cheap rule does (layout.paragraphs).
        regions: Optional[list[Region]] = None
        if self.layout is not None and tabular_rows(boxes):
            try:
                regions = self.layout(gray)
            except Exception as e:
                failures.append(Failure(stage="layout", category="error", message=str(e), page=number))
        layout_tables = [r.bbox for r in regions or [] if r.kind == "table"]

        # the prose lines and every ruled table: one batched recognition for the whole page
        reads = self._read_all([ReadJob(masked, boxes, inset_px=0, keep_spaces=True)]
                               + [ReadJob(gray, [c.bbox for c in g.cells]) for g in grids], failures, number)
        lines = [TextLine([float(v) for v in b], r.text, r.char_probs) for b, r in zip(boxes, reads[0] or []) if r.text]
        read_grids = list(zip(grids, reads[1:]))
        # tables with no ruled grid (borderless, 三线表, rules faded away): regions from the layout
        # model and from the text's own alignment, structure from the alignment (table.align)
        fallback = unruled_tables(gray, grids, lines, layout_tables, failures, number)
        if fallback:
            jobs = [ReadJob(gray, [c.bbox for c in g.cells], inset_px=1, ruled=False) for g in fallback]
            read_grids += list(zip(fallback, self._read_all(jobs, failures, number)))
        read_grids.sort(key=lambda gr: (gr[0].bbox[1], gr[0].bbox[0]))
        page.tables = self._tables(read_grids, failures, number)
        free = [ln for ln in lines if not any(inside_frac(ln.bbox, t.bbox) > 0.5 for t in page.tables)]
        page.paragraphs = paragraphs(free, regions, page.width)
        page.regions = (regions or []) + [Region(kind="table", bbox=list(t.bbox), source="lines" if t.source == "lines" else "text")
                                          for t in page.tables]
        page.failures = failures
        page.seconds = round(time.perf_counter() - t0, 3)
        return page

    def _clean(self, gray: np.ndarray, number: int, dpi: Optional[float], failures: list[Failure]) -> tuple[np.ndarray, Page]:
        """The page enhanced where faint (its ink contrast measured), turned upright and deskewed;
        and the Page that records what was done."""
        h0, w0 = gray.shape
        enhanced: Optional[dict] = None
        better = None
        if self.s.enhance:  # faint or unevenly lit scans: flat field and contrast stretch (extractor/enhance.py)
            try:
                better, enhanced = enhance_page(gray, self.s.enhance_max_uneven, self.s.enhance_min_contrast)
            except Exception as e:
                failures.append(Failure(stage="clean", category="error", message=f"enhance: {e}", page=number))
        try:
            # orientation and skew are judged on the page as scanned: the stretch of a noisy page
            # turns its paper grain into specks that hide the lines' slope; the enhanced page then
            # gets the same turn and rotation
            target = better if better is not None and better is not gray else None
            if self.s.detect_orientation:
                cl = clean_page(gray, self.classifier, self.read_score, apply_to=target)
            else:
                cl = clean_page(gray, apply_to=target)
            gray, rot, skew = cl.gray, cl.rotation, cl.skew
        except Exception as e:
            failures.append(Failure(stage="clean", category="error", message=str(e), page=number))
            rot, skew = 0, 0.0
            gray = better if better is not None else gray
        h, w = gray.shape
        page = Page(page=number, width=w, height=h, dpi=dpi,
                    transform=Transform(source_width=w0, source_height=h0, rotation=rot, skew=round(skew, 3)),
                    enhanced=enhanced, ink_contrast=enhanced.get("contrast") if enhanced else None)
        return gray, page

    def _free_text(self, gray: np.ndarray, grids: list[GridTable], failures: list[Failure],
                   number: int) -> tuple[np.ndarray, list]:
        """The page with its ruled tables blanked, and the text-line boxes left on it (prose,
        titles and unruled tables)."""
        masked = gray.copy()
        for g in grids:
            x0, y0, x1, y1 = (int(v) for v in g.bbox)
            masked[max(0, y0 - 2):y1 + 3, max(0, x0 - 2):x1 + 3] = 255
        boxes: list = []
        try:
            boxes = text_lines(self.detector, masked, self.s.det_band_max_side, self.s.det_max_side)
        except Exception as e:
            failures.append(Failure(stage="ocr", category="error", message=f"text lines: {e}", page=number))
        return masked, boxes

    def _read_all(self, jobs: list[ReadJob], failures: list[Failure], number: int) -> list[Optional[list]]:
        """Every job's reads in one batched call; if that fails, job by job, so one bad table
        loses only itself (None in its place, with the failure recorded)."""
        try:
            return self.reader.read_groups(jobs)
        except Exception:
            out: list[Optional[list]] = []
            for i, job in enumerate(jobs):
                try:
                    out.append(self.reader.read_groups([job])[0])
                except Exception as e:
                    what = "text lines" if job.keep_spaces else f"table {i - int(jobs[0].keep_spaces)}"
                    failures.append(Failure(stage="ocr", category="error", message=f"{what}: {e}", page=number))
                    out.append(None)
            return out

    def _ocr_grids(self, gray: np.ndarray, number: int, grids: list[GridTable], failures: list[Failure]) -> list[Table]:
        """Ruled grids of a born-digital page that the text layer has no characters for, read by OCR."""
        reads = self._read_all([ReadJob(gray, [c.bbox for c in g.cells]) for g in grids], failures, number)
        return self._tables(list(zip(grids, reads)), failures, number)

    @staticmethod
    def _tables(read_grids: list, failures: list[Failure], number: int) -> list[Table]:
        tables = []
        for ti, (g, cell_reads) in enumerate(read_grids):
            if cell_reads is None:
                continue
            try:
                tables.append(table_from_reads(g, cell_reads, number, ti))
            except Exception as e:
                failures.append(Failure(stage="ocr", category="error", message=f"table {ti}: {e}", page=number))
        return tables


def table_from_reads(g: GridTable, reads: list, page_no: int, index: int) -> Table:
    """A grid and its cells' reads as a Table, each cell with its evidence and raw confidence."""
    repair_columns(g.cells, reads)
    cells = []
    for c, r in zip(g.cells, reads):
        if g.source != "lines" and c.pieces == 0 and r.text:
            # a cell of a grid from text that no detected line falls in: what its crop reads is
            # paper grain or the edge of a neighbour's text, unless the recogniser is sure of it
            # or it reads as a figure; when dropped, the surer the read was, the more the empty
            # cell is in doubt
            mean = float(np.mean(r.char_probs)) if r.char_probs else 0.0
            figure = bool(FIGURE.match(r.text.replace(" ", ""))) and mean >= 0.8
            if not figure and (not r.char_probs or min(r.char_probs) < NO_LINE_MIN_PROB):
                r = TextRead("", ink=r.ink, unsure=mean)
        ev = OcrEvidence(mean_prob=float(np.mean(r.char_probs)) if r.char_probs else 1.0,
                         min_prob=float(min(r.char_probs)) if r.char_probs else 1.0,
                         n_chars=len(r.text), n_lines=r.n_lines,
                         char_probs=[round(p, 4) for p in r.char_probs], ink=round(float(r.ink), 5),
                         dropped=round(float(r.dropped), 4), missed=round(float(r.missed), 4),
                         missed_edge=round(float(r.missed_edge), 4), unsure=round(float(r.unsure), 4))
        text_grid = g.source != "lines"
        st = StructureEvidence(borders_seen=round(float(c.borders_seen), 3), span_inferred=text_grid,
                               source="text" if text_grid else "lines", pieces=c.pieces if text_grid else None)
        cell = Cell(row=c.row, col=c.col, rowspan=c.rowspan, colspan=c.colspan,
                    bbox=[round(float(v), 1) for v in c.bbox], text=r.text, ocr=ev, structure=st)
        cell.confidence = confidence.cell_confidence(cell, r.ink)
        cells.append(cell)
    return Table(id=f"p{page_no}-t{index}", bbox=[round(float(v), 1) for v in g.bbox], n_rows=g.n_rows,
                 n_cols=g.n_cols, cells=cells, source="lines" if g.source == "lines" else "text",
                 col_edges=[round(float(v), 1) for v in g.col_edges])
