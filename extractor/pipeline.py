"""The pipeline: source file -> Document. It joins the two halves of the work with a pool of page
workers:

- the page reader (reader.py): one page image -> Page (clean, ruled grids, text lines, layout,
  OCR, grids from text alignment, raw confidence), holding the models;
- the document finisher (finish.py): the Document's pages -> the finished Document
  (continuations, KPI records, checks, calibrated confidence), holding no OCR model.

With more than one worker (``Settings.workers``; the default count is workers.worker_count's), a
file's pages are spread over spawned processes, each with its own page reader; the finisher runs
here. A failure on one page is recorded on that page and the document goes on. Models are loaded
once per Pipeline; reuse one object for many documents.
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from . import __version__, ingest, workers
from .config import Settings
from .finish import DocumentFinisher
from .model import Document, Failure, Page
from .reader import PageReader

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (pages done, pages total)

# ------------------------------------------------------------------ page workers (spawned processes)
_READER: Optional[PageReader] = None
_FILES = workers.OpenFiles()


def _worker_init(settings: dict) -> None:
    global _READER
    workers.start_worker(int(settings.get("threads") or 1))
    _READER = PageReader(Settings(**settings), int(settings.get("threads") or 0))


def _worker_page(path: str, n: int, dpi: float) -> Page:
    """One page in a worker process; the source stays open for the document's next pages."""
    return _READER.read(_FILES.get(path), n, dpi)


def _worker_pid() -> int:
    import os
    import time

    time.sleep(0.2)  # long enough that the other workers take the other calls
    return os.getpid()


def worker_count(settings: Settings) -> int:
    """Page workers for ``settings`` (see workers.worker_count)."""
    return workers.worker_count(settings.workers, settings.device)



def _part(part: str, name: str) -> property:
    """An attribute of the page reader or the finisher that a Pipeline answers for (read and set:
    a test's spy set in place of the layout model is the one the reader uses)."""
    return property(lambda self: getattr(getattr(self, part), name),
                    lambda self, value: setattr(getattr(self, part), name, value))


class Pipeline:
    def __init__(self, settings: Optional[Settings] = None):
        self.s = settings or Settings()
        self._pool = None
        self.n_workers = worker_count(self.s)
        thr = self.s.threads
        if self.n_workers > 1 and not thr:  # the cores are shared out among the page workers
            thr = workers.threads_per_worker(self.n_workers)
        self._threads = thr
        self.pages = PageReader(self.s, thr)
        self.finisher = DocumentFinisher(self.s)

    recognizer, detector, classifier = _part("pages", "recognizer"), _part("pages", "detector"), _part("pages", "classifier")
    layout, reader, sandbox = _part("pages", "layout"), _part("pages", "reader"), _part("pages", "sandbox")
    text_calibration, faint_calibration = _part("finisher", "text_calibration"), _part("finisher", "faint_calibration")
    _level_model = _part("finisher", "_level_model")

    def finish(self, doc: Document) -> Document:
        """The document-level stages, after every page is read (finish.DocumentFinisher)."""
        return self.finisher.finish(doc)

    def _read_score(self, crops: list[np.ndarray]) -> list[tuple[float, int]]:
        return self.pages.read_score(crops)

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
                doc.pages = self._collect_pages(str(path), numbers, self._submit_pages(str(path), numbers, dpi), dpi, progress)
            else:
                for i, n in enumerate(numbers):
                    doc.pages.append(self.pages.read(src, n, dpi))
                    if progress:
                        progress(i + 1, len(numbers))
        finally:
            src.close()
        return self.finish(doc)

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

    def read_page(self, src: ingest.Source, n: int, dpi: Optional[float] = None) -> Page:
        """Page ``n`` (1-based) of a source opened with ``ingest.open_source``, in this process
        (reader.PageReader.read)."""
        return self.pages.read(src, n, dpi or self.s.dpi)

    def process_image(self, gray: np.ndarray, number: int = 1, dpi: Optional[float] = None) -> Page:
        """One page image through every page stage (reader.PageReader.read_image)."""
        return self.pages.read_image(gray, number, dpi)

    # ------------------------------------------------------------------ the page-worker pool
    def _workers(self):
        """The page-worker pool (started on first use, kept for later documents)."""
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            cfg = workers.in_worker(self.s.model_dump(), self._threads)
            self._pool = ProcessPoolExecutor(self.n_workers, mp_context=mp.get_context("spawn"),
                                             initializer=_worker_init, initargs=(cfg,))
        return self._pool

    def warm_up(self, timeout: float = 300.0) -> None:
        """Load every model now rather than on the first document: the page workers are started
        and have loaded theirs, and the KPI level classifier is loaded (a service or a batch calls
        this at start; the benchmark counts it as model loading, not page time)."""
        if self.n_workers > 1:
            import time

            pool, seen, t0 = self._workers(), set(), time.monotonic()
            while len(seen) < self.n_workers and time.monotonic() - t0 < timeout:
                seen.update(f.result() for f in [pool.submit(_worker_pid) for _ in range(self.n_workers)])
        self.finisher.warm_up()

    def _submit_pages(self, path: str, numbers: list[int], dpi: float) -> list:
        return [self._workers().submit(_worker_page, path, n, dpi) for n in numbers]

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
                    out.append(self.pages.read(local, n, dpi))
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
        self.pages.close()
