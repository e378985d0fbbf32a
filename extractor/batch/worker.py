"""What runs in a batch worker (a local worker process or a Ray actor): one page reader
(reader.PageReader), its models loaded once, reading one task at a time.

A task is a plain dict, so the same worker serves both engines:

- ``{"kind": "probe", "path": ...}``: open the file and count its pages (a file is never opened in
  the batch's main process: a hostile file can take down a worker, not the batch). Returns
  ``{"n_pages": n}`` or ``{"error": reason}``.
- ``{"kind": "page", "path": ..., "page": n, "dpi": d}``: read one page. Returns ``{"page": Page JSON}``;
  a page that fails is a Page with its failure recorded, never an exception.

Every result also carries ``worker`` (host:pid) and ``peak_rss_mb`` (the process's peak memory).
"""
from __future__ import annotations

import logging
import os
import resource
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)

# where a worker keeps files shipped to it through Ray's object store (keyed by content hash)
SHIP_DIR_ENV = "EXTRACTOR_BATCH_CACHE"


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(r / (1024 * 1024) if sys.platform == "darwin" else r / 1024, 1)


class PageWorker:
    def __init__(self, settings: dict, threads: int = 1):
        from ..config import Settings
        from ..reader import PageReader
        from ..workers import OpenFiles, in_worker, start_worker

        start_worker(threads, level=None)  # logging is set by whoever started the process
        cfg = in_worker(settings, threads)  # pages one after another, in this process
        self.reader = PageReader(Settings(**cfg), cfg["threads"])
        self.ident = f"{socket.gethostname()}:{os.getpid()}"
        self._files = OpenFiles()

    # ---- tasks

    def run(self, task: dict, data: Optional[bytes] = None) -> dict:
        """One task (see the module docstring); ``data``: the file's bytes when they were shipped."""
        path = task["path"]
        if data is not None:
            path = self._materialise(task, data)
        if task["kind"] == "probe":
            out = self._probe(path)
        elif task["kind"] == "page":
            out = {"page": self._page(path, int(task["page"]), float(task["dpi"])).model_dump_json()}
        else:
            raise ValueError(f"unknown task kind {task['kind']!r}")
        out.update(worker=self.ident, peak_rss_mb=peak_rss_mb())
        return out

    def _probe(self, path: str) -> dict:
        from ..ingest import InputError

        self._close()
        try:
            src = self._open(path)
        except InputError as e:
            return {"error": e.reason}
        except Exception as e:  # a reader that breaks in an unforeseen way: the file fails, not the worker
            return {"error": f"unreadable ({type(e).__name__}: {e})"}
        return {"n_pages": int(src.n_pages), "kind": src.kind}

    def _page(self, path: str, n: int, dpi: float):
        from ..ingest import InputError
        from ..model import Failure, Page

        t0 = time.perf_counter()
        try:
            src = self._open(path)
        except InputError as e:
            return Page(page=n, width=0, height=0, seconds=round(time.perf_counter() - t0, 3), failures=[
                Failure(stage="ingest", category="input_error", message=e.reason, page=n)])
        try:
            if n > src.n_pages:
                raise ValueError(f"page {n} of a file with {src.n_pages} pages")
            return self.reader.read(src, n, dpi)
        except Exception as e:  # the pipeline records failures on the page; this is the last resort
            log.error("page %d of %s failed: %s", n, path, traceback.format_exc())
            return Page(page=n, width=0, height=0, seconds=round(time.perf_counter() - t0, 3), failures=[
                Failure(stage="pipeline", category="error", message=f"{type(e).__name__}: {e}", page=n)])

    # ---- the open source, kept for the document's next page

    def _open(self, path: str):
        return self._files.get(path)

    def _close(self) -> None:
        self._files.close()

    def _materialise(self, task: dict, data: bytes) -> str:
        """A shipped file written once into this node's cache, named by its content hash."""
        import tempfile

        base = Path(os.environ.get(SHIP_DIR_ENV) or Path(tempfile.gettempdir()) / "extractor-batch-files")
        base.mkdir(parents=True, exist_ok=True)
        p = base / f"{task['hash']}{Path(task['path']).suffix.lower()}"
        if not p.exists() or p.stat().st_size != len(data):
            tmp = p.with_name(p.name + f".{os.getpid()}.part")
            tmp.write_bytes(data)
            os.replace(tmp, p)
        return str(p)
