"""The pipeline: source file -> Document. Each page runs ingest -> clean -> layout -> table
structure -> OCR -> confidence; then tables cut by page breaks are linked.

A failure on one page is recorded on that page (stage, category, message) and the document
goes on. Models are loaded once per Pipeline object; reuse one object for many documents.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import cv2
import numpy as np

from . import __version__, confidence, ingest, runtime
from .clean import clean_page
from .config import Settings
from .enhance import enhance_page
from .geometry import inside_frac, iou
from .ingest.sandbox import PageLimitError, RenderSandbox
from .kpi import levels as kpi_levels
from .kpi import records as kpi_records
from .kpi.tables import annotate_tables
from .kpi.vote import vote_names
from .layout import LayoutModel
from .model import Cell, Document, Failure, OcrEvidence, Page, Paragraph, Region, StructureEvidence, Table, Transform
from .ocr.cells import CellReader, ReadJob, TextRead
from .ocr.normalize import restore_codes, restore_numbering
from .validate import validate
from .ocr.engine import Classifier, Detector, Recognizer
from .table import GridTable, find_tables
from .table.align import Line as AlignLine
from .table.align import FIGURE, extend_up, merge_stacked, table_from_lines, text_table_regions
from .table.continuation import link_continuations

log = logging.getLogger(__name__)

# a line that opens a numbered heading or item: 一、 （一） (1) 1、 1. 第二部分
HEADING = re.compile(r"^(第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[、.．])")

ProgressFn = Callable[[int, int], None]  # (pages done, pages total)
# a page that ingest refuses, by ingest.InputError's category
PAGE_INPUT_FAILURES = {"too_large": "page_too_large", "too_small": "page_too_small", "empty": "page_unreadable",
                       "corrupt": "page_unreadable", "missing": "input_error", "unsupported": "input_error",
                       "encrypted": "input_error"}


@dataclass
class _Line:
    bbox: list[float]
    text: str
    probs: list[float]


# ------------------------------------------------------------------ page workers
_WORKER: Optional["Pipeline"] = None
_WORKER_SRC: dict = {}


def _worker_init(settings: dict) -> None:
    global _WORKER
    import cv2

    logging.basicConfig(level=logging.WARNING)
    # the cores are shared out among the workers: OpenCV's own thread pool would oversubscribe them
    cv2.setNumThreads(max(1, int(settings.get("threads") or 1)))
    _WORKER = Pipeline(Settings(**settings))


def _worker_page(path: str, n: int, dpi: float) -> Page:
    """One page in a worker process; the source stays open for the document's next pages."""
    import os

    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)  # a file rewritten under the same name is opened afresh
    if _WORKER_SRC.get("key") != key:
        if _WORKER_SRC.get("src") is not None:
            _WORKER_SRC["src"].close()
        _WORKER_SRC.update(key=key, src=ingest.open_source(path))
    return _WORKER._page_from_source(_WORKER_SRC["src"], n, dpi)


def _worker_pid() -> int:
    import os
    import time as _time

    _time.sleep(0.2)  # long enough that the other workers take the other calls
    return os.getpid()


def worker_count(settings: Settings) -> int:
    import os

    n = settings.workers or min(4, os.cpu_count() or 1)  # each worker holds its own models (~1 GB)
    return max(1, n if settings.device != "cuda" else 1)  # one GPU: one process feeds it


def _repair_columns(g: GridTable, reads: list) -> None:
    """Column by column, the "、" a numbered item lost in the scan (normalize.restore_numbering);
    the restored mark gets a doubtful probability, as it was inferred, not read; and the digits of
    a 科目编码 that a speck split (normalize.restore_codes)."""
    by_col: dict[int, list[int]] = {}
    for i, c in enumerate(g.cells):
        by_col.setdefault(c.col, []).append(i)
    for idx in by_col.values():
        idx.sort(key=lambda i: g.cells[i].row)
        texts = [reads[i].text for i in idx]
        for i, old, new in zip(idx, texts, restore_numbering(texts)):
            if new != old and len(reads[i].char_probs) == len(old):
                k = new.index("、")
                reads[i].text = new
                reads[i].char_probs = reads[i].char_probs[:k] + [INFERRED_MARK_PROB] + reads[i].char_probs[k:]
        # a 科目编码 with a speck read as a dot inside it ("208080.1"): the mark goes, counted as dropped
        texts = [reads[i].text for i in idx]
        for i, old, new in zip(idx, texts, restore_codes(texts)):
            if new != old and len(reads[i].char_probs) == len(old):
                gone = [p for ch, p in zip(old, reads[i].char_probs) if not ch.isdigit()]
                reads[i].text = new
                reads[i].char_probs = [p for ch, p in zip(old, reads[i].char_probs) if ch.isdigit()]
                reads[i].dropped = max(reads[i].dropped, *gone)


# the probability given to a character the pipeline inferred rather than read
INFERRED_MARK_PROB = 0.5


# the least character probability at which a cell of a text grid that holds no detected line keeps its read
NO_LINE_MIN_PROB = 0.9
# rows of text split into pieces far apart that make the free text look like a table (see _tabular_rows)
TABULAR_ROWS = 3


def _tabular_rows(boxes: list, min_rows: int = TABULAR_ROWS) -> bool:
    """Could the text lines outside the ruled grids hold an unruled table? Only then is the layout
    model asked for table regions (the text-alignment fallback needs one). Such a table shows as
    rows of separate pieces far apart (more than a line height): ``min_rows`` of them, or two
    close above one another with a gap at the same place. A table page has one such row of its
    own ("部门名称：…" … "单位：万元") and prose none, so neither pays for the model."""
    if len(boxes) < 4:
        return False
    bx = sorted((tuple(float(v) for v in b[:4]) for b in boxes), key=lambda b: (b[1] + b[3]) / 2)
    lh = float(np.median([b[3] - b[1] for b in bx]))
    rows: list[list[tuple]] = []
    for b in bx:
        if rows:
            top, bot = min(x[1] for x in rows[-1]), max(x[3] for x in rows[-1])
            if min(bot, b[3]) - max(top, b[1]) > 0.5 * min(bot - top, b[3] - b[1]):
                rows[-1].append(b)
                continue
        rows.append([b])
    split: list[tuple[float, list[tuple[float, float]]]] = []  # (row centre, its wide gaps)
    for r in rows:
        r.sort(key=lambda b: b[0])
        gaps, right = [], r[0][2]
        for b in r[1:]:
            if b[0] - right > lh:
                gaps.append((right, b[0]))
            right = max(right, b[2])
        if gaps:
            split.append((sum((b[1] + b[3]) / 2 for b in r) / len(r), gaps))
    if len(split) >= min_rows:
        return True
    return any(c1 - c0 < 3 * lh and any(min(a1, b1) > max(a0, b0) for a0, a1 in g0 for b0, b1 in g1)
               for (c0, g0), (c1, g1) in zip(split, split[1:]))


# a paragraph named a title without the layout model: one short line that does not end a sentence,
# and opens a numbered heading, stands centred on the page or stands taller than the page's text
TITLE_MAX_CHARS, TITLE_TALL = 40, 1.2


class Pipeline:
    def __init__(self, settings: Optional[Settings] = None):
        self.s = settings or Settings()
        self._pool = None
        self.n_workers = worker_count(self.s)
        dev, thr = self.s.device, self.s.threads
        if self.n_workers > 1 and not thr:  # the cores are shared out among the page workers
            import os

            thr = max(1, (os.cpu_count() or 1) // self.n_workers)
        self._threads = thr
        self.recognizer = Recognizer(dev, thr, batch_size=self.s.rec_batch_size, precision=self.s.rec_precision)
        self.detector = Detector(dev, thr)
        self.classifier = Classifier(dev, thr)
        self.layout = LayoutModel(dev, thr) if self.s.use_layout else None
        self.reader = CellReader(self.recognizer, self.detector)
        cal = runtime.project_model("calibration.json")
        self.evidence, self.calibration, self.kpi_calibration = None, None, None
        self.text_calibration: Optional[confidence.Calibration] = None
        self.faint_calibration: Optional[confidence.Calibration] = None
        if cal.exists() and self.s.calibrate:
            try:
                data = json.loads(cal.read_text(encoding="utf-8"))
                self.evidence, self.calibration, self.kpi_calibration = confidence.load_calibration(cal, data)
                self.text_calibration = confidence.load_map(data, "text_cells")
                self.faint_calibration = confidence.load_map(data, "faint_cells")
            except (ValueError, KeyError, OSError) as e:  # a stale or broken file: raw scores, said loudly
                log.warning("confidence calibration not used (%s): %s", cal, e)
        self._level_model = None  # the KPI level classifier, loaded on the first document with KPI rows
        self._level_error: Optional[str] = None  # why it could not be loaded
        # pages are rendered in a helper under OS limits (None: limits off, rendered in this process);
        # callers that render pages again (the service's page images) use the same helper
        self.sandbox: Optional[RenderSandbox] = None
        if self.s.render_timeout > 0 or self.s.render_memory_mb > 0:
            self.sandbox = RenderSandbox(self.s.render_timeout, self.s.render_memory_mb)

    def finish(self, doc: Document) -> Document:
        """The document-level stages, after every page is read. One that fails is recorded on the
        document and the others still run."""
        for stage, fn in (("table", link_continuations), ("kpi", annotate_tables), ("kpi", kpi_records.extract),
                          ("kpi", vote_names), ("validate", validate), ("confidence", self._score_cells),
                          ("kpi", kpi_records.extract), ("kpi", self._vote_levels), ("confidence", self._calibrate)):
            try:
                fn(doc)
            except Exception as e:
                log.exception("%s failed on %s", fn.__name__, doc.source)
                doc.failures.append(Failure(stage=stage, category="error", message=f"{fn.__name__}: {e}"))
        return doc

    def _score_cells(self, doc: Document) -> None:
        """Every cell's confidence from all the evidence on it (the KPI records are then rebuilt
        from these cells, so their confidence follows)."""
        if self.evidence is not None:  # fitted on ruled grids: a grid built from text alone is outside its reach
            self.evidence.apply([t for t in doc.tables() if t.source != "text"])
        self._cap_unsure(doc)

    @staticmethod
    def _cap_unsure(doc: Document) -> None:
        """The fitted evidence has no feature for a read's doubt that its text accounts for the
        cell's ink: a cap, before the KPI records take the cells' confidence and after calibration."""
        for t in doc.tables():
            for c in t.cells:
                c.confidence = confidence.unsure_cap(c.confidence, c.ocr)

    def _calibrate(self, doc: Document) -> None:
        for p in doc.pages:
            faint = bool(p.enhanced and p.enhanced.get("applied"))
            for t in p.tables:
                # a table without rulings has its own map (its raw confidence is ~0.68 x the read's);
                # without one its cells keep that raw score, below the review threshold. A ruled
                # table on a faint or unevenly lit page: the cell map, then the faint pages' map
                maps = [self.text_calibration] if t.source == "text" else \
                    [self.calibration] + ([self.faint_calibration] if faint else [])
                for cal in maps:
                    if cal is not None:
                        for c in t.cells:
                            c.confidence = round(cal(c.confidence), 4)
        self._cap_unsure(doc)
        if self.kpi_calibration is not None:
            for k in doc.kpis:
                k.confidence = round(self.kpi_calibration(k.confidence), 4)

    def _vote_levels(self, doc: Document) -> None:
        if not doc.kpis or not self.s.kpi_classifier:
            return
        if self._level_model is None and self._level_error is None:
            self._load_level_model()
        if self._level_error is not None:
            doc.failures.append(Failure(stage="kpi", category="classifier_unavailable",
                                        message=f"KPI levels not voted: {self._level_error}"))
            return
        kpi_levels.reconcile(doc, self._level_model)

    def _load_level_model(self) -> None:
        """Load the KPI level classifier; when it cannot be, the reason is kept (and said on every
        document with KPI rows) and it is not tried again."""
        from .kpi.classifier import KpiClassifier

        try:
            self._level_model = KpiClassifier.load(device=None if self.s.device == "auto" else self.s.device)
        except (ImportError, FileNotFoundError, OSError) as e:
            self._level_error = str(e)

    def _read_score(self, crops: list[np.ndarray]) -> list[tuple[float, int]]:
        return [(r.mean_prob, len(r.text.strip())) for r in self.recognizer(crops, exact=False)]

    # ------------------------------------------------------------------ documents
    def run(self, path: str | Path, pages: Optional[str] = None, dpi: Optional[float] = None,
            progress: Optional[ProgressFn] = None) -> Document:
        """Extract a whole file. Raises ingest.InputError when the file itself is unreadable."""
        dpi = dpi or self.s.dpi
        src = ingest.open_source(path)
        doc = Document(source=str(path), n_pages=src.n_pages, extractor_version=__version__)
        try:
            numbers = ingest.parse_page_range(pages, src.n_pages)
            if self.n_workers > 1 and len(numbers) > 1:
                src.close()
                doc.pages = self._pages_in_workers(str(path), numbers, dpi, progress)
            else:
                for i, n in enumerate(numbers):
                    doc.pages.append(self._page_from_source(src, n, dpi))
                    if progress:
                        progress(i + 1, len(numbers))
        finally:
            src.close()
        self.finish(doc)
        return doc

    def _workers(self):
        """The page-worker pool (started on first use, kept for later documents)."""
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            cfg = self.s.model_dump()
            cfg.update(workers=1, threads=self._threads)
            self._pool = ProcessPoolExecutor(self.n_workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init, initargs=(cfg,))
        return self._pool

    def warm_up(self, timeout: float = 300.0) -> None:
        """Load every model now rather than on the first document: the page workers are started
        and have loaded theirs, and the KPI level classifier is loaded (a service or a batch calls
        this at start; the benchmark counts it as model loading, not page time)."""
        if self.n_workers > 1:
            import time as _time

            pool, seen, t0 = self._workers(), set(), _time.monotonic()
            while len(seen) < self.n_workers and _time.monotonic() - t0 < timeout:
                seen.update(f.result() for f in [pool.submit(_worker_pid) for _ in range(self.n_workers)])
        if self.s.kpi_classifier and self._level_model is None and self._level_error is None:
            self._load_level_model()

    def run_many(self, paths, dpi: Optional[float] = None) -> Iterator[Document]:
        """Whole files one after another, as ``run`` gives them, with the page workers kept busy
        across files: the next file's pages are queued before this one's document-level stages
        run, so no worker waits for the last page of a file or for its checks. Raises
        ingest.InputError when it comes to a file that is unreadable."""
        dpi = dpi or self.s.dpi
        paths = [str(p) for p in paths]
        if self.n_workers <= 1:
            for path in paths:
                yield self.run(path, dpi=dpi)
            return

        def start(path: str):
            src = ingest.open_source(path)
            numbers = list(range(1, src.n_pages + 1))
            src.close()
            return path, numbers, self._submit_pages(path, numbers, dpi)

        todo = iter(paths)
        queued: deque = deque()  # (path, page numbers, futures) or the file's InputError

        def top_up() -> None:
            while len(queued) < 2:
                path = next(todo, None)
                if path is None:
                    return
                try:
                    queued.append(start(path))
                except ingest.InputError as e:
                    queued.append(e)

        top_up()
        while queued:
            job = queued.popleft()
            if isinstance(job, Exception):
                raise job
            path, numbers, futures = job
            doc = Document(source=path, n_pages=len(numbers), extractor_version=__version__)
            doc.pages = self._collect_pages(path, numbers, futures, dpi, None)
            top_up()  # the next files' pages are queued before this one's document-level stages run
            yield self.finish(doc)

    def _submit_pages(self, path: str, numbers: list[int], dpi: float) -> list:
        return [self._workers().submit(_worker_page, path, n, dpi) for n in numbers]

    def _pages_in_workers(self, path: str, numbers: list[int], dpi: float, progress: Optional[ProgressFn]) -> list[Page]:
        return self._collect_pages(path, numbers, self._submit_pages(path, numbers, dpi), dpi, progress)

    def _collect_pages(self, path: str, numbers: list[int], futures: list, dpi: float,
                       progress: Optional[ProgressFn]) -> list[Page]:
        """Pages spread over the worker processes. A worker that dies loses only its page,
        recorded as a failure."""
        from concurrent.futures.process import BrokenProcessPool

        out: list[Page] = []
        local = None  # after a worker died: the rest of the document in this process
        try:
            for i, (n, f) in enumerate(zip(numbers, futures)):
                if local is not None:
                    out.append(self._page_from_source(local, n, dpi))
                else:
                    try:
                        out.append(f.result())
                    except Exception as e:
                        log.error("page %d of %s failed in a worker: %s", n, path, e)
                        out.append(Page(page=n, width=0, height=0, failures=[
                            Failure(stage="pipeline", category="worker_error", message=str(e) or type(e).__name__, page=n)]))
                        if isinstance(e, BrokenProcessPool):
                            self._pool = None
                            local = ingest.open_source(path)
                if progress:
                    progress(i + 1, len(numbers))
        finally:
            if local is not None:
                local.close()
        return out

    def close(self) -> None:
        """Stop the page workers (they also stop when the process exits)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self.sandbox is not None:
            self.sandbox.close()

    def read_page(self, src: ingest.Source, n: int, dpi: Optional[float] = None) -> Page:
        """Page ``n`` (1-based) of a source opened with ``ingest.open_source``, through every page
        stage in this process; a page that cannot be rendered comes back with its failure recorded.
        For callers that schedule pages themselves (the batch runner's workers and Ray actors);
        ``finish`` then runs the document-level stages on the assembled Document."""
        return self._page_from_source(src, n, dpi or self.s.dpi)

    def _page_from_source(self, src: ingest.Source, n: int, dpi: float) -> Page:
        t0 = time.perf_counter()

        def failed(category: str, message: str) -> Page:
            return Page(page=n, width=0, height=0, seconds=round(time.perf_counter() - t0, 3),
                        failures=[Failure(stage="ingest", category=category, message=message, page=n)])

        try:
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
        return self.process_image(img.gray, n, img.dpi)

    # ------------------------------------------------------------------ pages
    def process_image(self, gray: np.ndarray, number: int = 1, dpi: Optional[float] = None) -> Page:
        t0 = time.perf_counter()
        h0, w0 = gray.shape
        failures: list[Failure] = []
        if float(cv2.meanStdDev(gray)[1][0, 0]) < 2.0:  # blank page: nothing to read
            return Page(page=number, width=w0, height=h0, dpi=dpi,
                        transform=Transform(source_width=w0, source_height=h0),
                        failures=[Failure(stage="clean", category="empty_page", message="page is blank", page=number)],
                        seconds=time.perf_counter() - t0)
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
                cl = clean_page(gray, self.classifier, self._read_score, apply_to=target)
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

        grids: list[GridTable] = []
        try:
            grids = find_tables(gray)  # the ruled grid is the authority; layout boxes only for unruled tables
        except Exception as e:
            failures.append(Failure(stage="table", category="error", message=str(e), page=number))

        # text lines outside ruled tables (prose, titles, and unruled tables)
        masked = gray.copy()
        for g in grids:
            x0, y0, x1, y1 = (int(v) for v in g.bbox)
            masked[max(0, y0 - 2):y1 + 3, max(0, x0 - 2):x1 + 3] = 255
        boxes: list = []
        try:
            boxes = self._detect_free_text(masked)
        except Exception as e:
            failures.append(Failure(stage="ocr", category="error", message=f"text lines: {e}", page=number))

        # the layout model is asked only where it can change the result: an unruled table (the
        # text-alignment fallback below) among the text outside the ruled grids. Its title
        # regions only name paragraphs; without them a cheap rule does (see _paragraphs).
        regions: Optional[list[Region]] = None
        if self.layout is not None and _tabular_rows(boxes):
            try:
                regions = self.layout(gray)
            except Exception as e:
                failures.append(Failure(stage="layout", category="error", message=str(e), page=number))
        layout_tables = [r.bbox for r in regions or [] if r.kind == "table"]

        # the prose lines and every ruled table: one batched recognition for the whole page
        reads = self._read_all([ReadJob(masked, boxes, inset_px=0, keep_spaces=True)]
                               + [ReadJob(gray, [c.bbox for c in g.cells]) for g in grids], failures, number)
        lines = [_Line([float(v) for v in b], r.text, r.char_probs) for b, r in zip(boxes, reads[0] or []) if r.text]
        ruled = list(zip(grids, reads[1:]))

        # tables with no ruled grid (borderless, 三线表, rules faded away): regions from the layout
        # model and from the text's own alignment, structure from the alignment (table.align)
        fallback = self._unruled_tables(gray, grids, lines, layout_tables, failures, number)
        if fallback:
            ruled += list(zip(fallback, self._read_all([ReadJob(gray, [c.bbox for c in g.cells], inset_px=1, ruled=False) for g in fallback],
                                                       failures, number)))
        ruled.sort(key=lambda gr: (gr[0].bbox[1], gr[0].bbox[0]))

        tables = []
        for ti, (g, cell_reads) in enumerate(ruled):
            if cell_reads is None:
                continue
            try:
                tables.append(self._table_from_reads(g, cell_reads, number, ti))
            except Exception as e:
                failures.append(Failure(stage="ocr", category="error", message=f"table {ti}: {e}", page=number))
        in_table = [t.bbox for t in tables]
        free = [ln for ln in lines if not any(inside_frac(ln.bbox, tb) > 0.5 for tb in in_table)]
        page.paragraphs = self._paragraphs(free, regions, w)
        page.tables = tables
        page.regions = (regions or []) + [Region(kind="table", bbox=list(t.bbox), source="lines" if t.source == "lines" else "text")
                                  for t in tables]
        page.failures = failures
        page.seconds = round(time.perf_counter() - t0, 3)
        return page

    @staticmethod
    def _unruled_tables(gray: np.ndarray, grids: list[GridTable], lines: list[_Line], layout_tables: list,
                        failures: list[Failure], number: int) -> list[GridTable]:
        """Grids from text alignment where no ruled grid is: each candidate region (the layout
        model's tables, then runs of aligned rows found in the text itself) that overlaps no ruled
        grid and no table already built, and whose lines show table evidence (align.is_table)."""
        texts = [AlignLine(tuple(ln.bbox), ln.text) for ln in lines
                 if not any(inside_frac(ln.bbox, g.bbox) > 0.5 for g in grids)]
        out: list[GridTable] = []
        page_w = gray.shape[1]
        try:
            cands = text_table_regions(texts, page_w)
            for reg in layout_tables:  # the model's regions, cut at titles and meta lines as the text's are
                inside = [t for t in texts if inside_frac(t.bbox, reg) > 0.6
                          and not any(inside_frac(t.bbox, c) > 0.5 for c in cands)]
                cands += text_table_regions(inside, page_w, min_rows=2) or ([tuple(reg)] if len(inside) >= 4 else [])
        except Exception as e:  # noqa: BLE001
            failures.append(Failure(stage="table", category="text_fallback", message=str(e), page=number))
            return out
        for reg in cands:
            if any(iou(reg, g.bbox) > 0.3 or inside_frac(reg, g.bbox) > 0.6 for g in grids + out):
                continue
            inside = [t for t in texts if inside_frac(t.bbox, reg) > 0.6]
            try:
                g = table_from_lines(inside, gray)
            except Exception as e:  # noqa: BLE001
                failures.append(Failure(stage="table", category="text_fallback", message=str(e), page=number))
                continue
            if g is not None and not any(iou(g.bbox, o.bbox) > 0.3 or inside_frac(g.bbox, o.bbox) > 0.6
                                         for o in grids + out):
                out.append(g)
        try:  # the parts of one form (project block, KPI grid) are one table, with its form rows above
            out = merge_stacked(out, texts, max_gap=0.4 * gray.shape[0])
            free = [t for t in texts if not any(inside_frac(t.bbox, o.bbox) > 0.5 for o in grids + out)]
            out = [extend_up(g, free) for g in out]
        except Exception as e:  # noqa: BLE001
            failures.append(Failure(stage="table", category="text_fallback", message=f"merge: {e}", page=number))
        return out

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

    def _table_from_reads(self, g: GridTable, reads: list, page_no: int, index: int) -> Table:
        _repair_columns(g, reads)
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

    def _detect_free_text(self, masked: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Text-line boxes on the page with its tables blanked. Only the horizontal bands that
        still hold ink are searched (stacked into one image, at the scale the page would get at
        ``det_band_max_side``): on a table page that is the title, unit and page-number lines, a
        fraction of the page, often in a small font. A page that is mostly text goes whole, at
        ``det_max_side`` (its body text is large enough there; the model's time goes with pixels)."""
        h, w = masked.shape
        scale = min(1.0, self.s.det_band_max_side / max(h, w))
        # ink rows, counted without lone specks (a noisy scan's speckle would make every row a band)
        ink = cv2.morphologyEx((masked < 160).astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        rows = np.flatnonzero(ink.sum(axis=1) > 2)
        bands: list[list[int]] = []
        pad, gap = 12, 30
        for y in rows:
            if bands and y - bands[-1][1] <= gap:
                bands[-1][1] = int(y)
            else:
                bands.append([int(y), int(y)])
        bands = [[max(0, a - pad), min(h, b + pad + 1)] for a, b in bands]
        if not bands:
            return []
        if sum(b - a for a, b in bands) > 0.6 * h:  # mostly text: the whole page in one go
            return [b[:4] for b in self.detector(masked, max_side=self.s.det_max_side)]
        sep = 24
        parts, offsets, y = [], [], 0
        for a, b in bands:
            parts += [masked[a:b], np.full((sep, w), 255, np.uint8)]
            offsets.append((y, a, b - a))
            y += b - a + sep
        stack = np.vstack(parts)
        found = self.detector(stack, max_side=max(32, int(round(max(stack.shape) * scale))))
        out = []
        for x0, y0, x1, y1, _ in found:
            cy = (y0 + y1) / 2
            for top, a, n in offsets:
                if top - sep / 2 <= cy < top + n + sep / 2:
                    out.append((x0, max(0.0, y0 - top) + a, x1, min(float(n), y1 - top) + a))
                    break
        return out

    @staticmethod
    def _paragraphs(lines: list[_Line], regions: Optional[list[Region]], page_w: Optional[float] = None) -> list[Paragraph]:
        """Group text lines into paragraphs in reading order.

        Lines on one row far apart ("部门名称：…" … "单位：万元") are separate paragraphs, left to
        right. A line continues the paragraph above when it is close below it, the line above runs
        to the right margin and this one starts at the left margin (Chinese paragraphs indent
        their first line and fill every line but the last).

        A paragraph is a title when it lies in a layout title region; with no layout regions
        (``regions`` None: the model was not asked) by a cheap rule on the line itself
        (TITLE_MAX_CHARS: short, no sentence end, and a numbered heading, centred on the page of
        width ``page_w``, or taller than the page's median line)."""
        if not lines:
            return []
        lines = sorted(lines, key=lambda l: (l.bbox[1], l.bbox[0]))
        lh = float(np.median([l.bbox[3] - l.bbox[1] for l in lines]))
        left = float(np.percentile([l.bbox[0] for l in lines], 10))
        right = float(np.percentile([l.bbox[2] for l in lines], 90))
        rows: list[list[_Line]] = []
        for ln in lines:
            if rows:
                r = rows[-1]
                top, bot = min(x.bbox[1] for x in r), max(x.bbox[3] for x in r)
                ov = min(bot, ln.bbox[3]) - max(top, ln.bbox[1])
                if ov > 0.5 * min(bot - top, ln.bbox[3] - ln.bbox[1]):
                    r.append(ln)
                    continue
            rows.append([ln])
        groups: list[list[_Line]] = []
        for r in rows:
            r.sort(key=lambda l: l.bbox[0])
            pieces: list[list[_Line]] = [[r[0]]]
            for ln in r[1:]:
                if ln.bbox[0] - pieces[-1][-1].bbox[2] > 2 * lh:
                    pieces.append([ln])
                else:
                    pieces[-1].append(ln)
            if len(pieces) == 1 and groups:
                prev = groups[-1][-1]
                first = pieces[0][0]
                gap = first.bbox[1] - prev.bbox[3]
                prev_full = prev.bbox[2] >= right - 1.5 * lh
                at_margin = abs(first.bbox[0] - left) < 0.6 * lh
                ends = prev.text.endswith(("。", "：", ":", "；", ";"))
                if gap < 0.8 * lh and prev_full and at_margin and not ends and not HEADING.match(first.text):
                    groups[-1].extend(pieces[0])
                    continue
            groups.extend(pieces)
        titles = [r.bbox for r in regions if r.kind == "title"] if regions is not None else None

        def ruled_title(ls: list[_Line], bb: tuple) -> bool:
            text = "".join(l.text for l in ls).strip()
            if (len(ls) != 1 or len(text) > TITLE_MAX_CHARS or not any("\u4e00" <= ch <= "\u9fff" for ch in text)  # "-3-"
                    or text.endswith(("。", "；", ";", "，", ",")) or "…" in text or ".." in text  # a sentence, a contents line
                    or (text[0] in "(（" and text[-1] in ")）" and not HEADING.match(text))):  # "(2025年度)"
                return False
            centred = page_w is not None and bb[2] - bb[0] < 0.7 * page_w and abs((bb[0] + bb[2]) / 2 - page_w / 2) < 0.05 * page_w
            return bool(HEADING.match(text)) or centred or bb[3] - bb[1] > TITLE_TALL * lh

        paras = []
        for ls in groups:
            x0 = min(l.bbox[0] for l in ls); y0 = min(l.bbox[1] for l in ls)
            x1 = max(l.bbox[2] for l in ls); y1 = max(l.bbox[3] for l in ls)
            probs = [p for l in ls for p in l.probs]
            bb = (x0, y0, x1, y1)
            if titles is not None:
                kind = "title" if any(inside_frac(bb, t) > 0.6 for t in titles) else "text"
            else:
                kind = "title" if ruled_title(ls, bb) else "text"
            ev = OcrEvidence(mean_prob=float(np.mean(probs)) if probs else 0.0, min_prob=float(min(probs)) if probs else 0.0,
                             n_chars=sum(len(l.text) for l in ls), n_lines=len(ls))
            p = Paragraph(bbox=[round(v, 1) for v in bb], text="".join(l.text for l in ls), kind=kind, ocr=ev)
            p.confidence = confidence.text_confidence(ev)
            paras.append(p)
        return paras
