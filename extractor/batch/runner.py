"""The batch runner: every document of an archive extracted once into the store, resumable.

One run: find the files (``discover``), hash them, make one document per distinct content, and
look each up in the store by its hash:

- done / partial / failed before: skipped (a renamed or copied file is the same document);
- pending (a run was stopped or killed): resumed at the pages not yet kept;
- unknown: probed in a worker (opened, pages counted), registered, then read page by page.

Pages of all documents go through one queue to the engine's workers (``engines.py``); each page is
kept in the store the moment it comes back (``Store.save_batch_page``, one short transaction), so a
killed run loses only the pages in flight. When a document's last page is in, it is assembled from
its kept pages, the document-level stages run here (``finish.DocumentFinisher``: continuations, KPI records,
checks, calibrated confidence) and it is saved whole in one transaction. A file that cannot be read
is recorded as a failed document with the reason, and the batch goes on.

Ctrl-C (or SIGTERM): the pages in flight are finished and kept, then the run stops (a second Ctrl-C
stops at once). The database is only ever changed in transactions, so a kill at any moment leaves
it consistent; the next run picks up where this one stopped.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

from .. import __version__
from ..config import Settings
from ..model import Document, Failure, Page, stored_name
from ..policy import REVIEW_BELOW  # a cell under it is "low confidence" (the store's review threshold)
from ..store import Store
from .discover import DocumentGroup, FoundFile, discover, group_by_content, hash_files
from .engines import DEFAULT_TASK_TIMEOUT, EngineError, make_engine
from .progress import Progress
from .worker import peak_rss_mb

log = logging.getLogger(__name__)



class BatchError(RuntimeError):
    """The batch cannot run (another batch holds the database, the workers cannot start, …)."""


@dataclass
class BatchOptions:
    engine: str = "local"  # local | ray
    workers: int = 0  # local: worker processes (0: one per core, as memory allows); ray: at most this many actors
    threads: int = 0  # per worker (0: the cores shared out; ray: 1 CPU per actor)
    address: Optional[str] = None  # ray: "auto" or host:port of an existing cluster; None: a local Ray
    ship_files: Optional[bool] = None  # ray: send file bytes through the object store (None: on multi-node)
    dpi: Optional[float] = None
    max_pages: int = 5000  # a file with more pages is refused (a hostile or mistaken file)
    task_timeout: float = DEFAULT_TASK_TIMEOUT  # seconds per page before its worker is replaced
    retries: int = 1  # a task whose worker died is tried again this many times, then recorded as failed
    retry_failed: bool = False  # documents that failed in an earlier run are read again
    quiet: bool = False


@dataclass
class DocOutcome:
    path: str  # where this run found it
    content_hash: str
    document_id: Optional[int]
    status: str  # done | partial | failed | pending (stopped before its last page)
    n_pages: int
    pages_read: int  # pages of it read in this run
    source: str = ""  # the name it is stored under (its first path)
    duplicates: list[str] = field(default_factory=list)  # other paths with the same bytes in this run
    skipped: bool = False  # done in an earlier run
    reasons: list[str] = field(default_factory=list)  # why it failed, or which pages failed


@dataclass
class BatchSummary:
    run_id: int
    state: str  # done | interrupted
    engine: str
    files: int
    documents: list[DocOutcome]
    unreadable: list[tuple[str, str]]  # (path, why) of files that could not even be hashed
    pages_total: int  # pages of the archive's documents
    pages_read: int  # read in this run
    seconds: float
    cells: int
    cells_low: int
    below: float = REVIEW_BELOW
    worker_peak_mb: dict[str, float] = field(default_factory=dict)
    driver_peak_mb: float = 0.0

    @property
    def pages_per_min(self) -> Optional[float]:
        return 60.0 * self.pages_read / self.seconds if self.pages_read and self.seconds > 0 else None

    def count(self, status: str) -> int:
        return sum(1 for d in self.documents if d.status == status)

    @property
    def failed(self) -> list[tuple[str, str]]:
        """(path, reason) of every document that failed and every file that could not be read."""
        out = [(d.path, "; ".join(d.reasons) or "failed") for d in self.documents if d.status == "failed"]
        return out + list(self.unreadable)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(pages_per_min=self.pages_per_min, failed=[list(x) for x in self.failed],
                 counts={s: self.count(s) for s in ("done", "partial", "failed", "pending")})
        return d

    def lines(self) -> list[str]:
        dups = [(p, d.path) for d in self.documents for p in d.duplicates]
        renamed = [d for d in self.documents if d.skipped and d.source and d.source != d.path]
        out = [f"batch run {self.run_id} ({self.engine}): {self.files} files, {len(self.documents)} documents"
               + (f", {len(dups)} duplicate file{'s' if len(dups) != 1 else ''}" if dups else "")
               + (f", {len(self.unreadable)} unreadable" if self.unreadable else "")]
        skipped = sum(d.skipped for d in self.documents)
        out.append(f"documents: {self.count('done')} ok, {self.count('partial')} ok with failed pages, "
                   f"{self.count('failed') + len(self.unreadable)} failed"
                   + (f", {self.count('pending')} not finished (run again to resume)" if self.count("pending") else "")
                   + (f"; {skipped} done in earlier runs" if skipped else ""))
        for path, why in self.failed:
            out.append(f"  failed   {path}: {why}")
        for d in self.documents:
            if d.status == "partial":
                out.append(f"  partial  {d.path}: {'; '.join(d.reasons)}")
        for p, first in dups:
            out.append(f"  same as  {first}: {p}")
        for d in renamed:
            out.append(f"  stored as {d.source}: {d.path}")
        rate = self.pages_per_min
        out.append(f"pages: {self.pages_total} in the archive, {self.pages_read} read in this run"
                   + (f" in {_duration(self.seconds)} ({rate:.1f} pages/min)" if rate else ""))
        if self.cells:
            out.append(f"low-confidence cells: {100.0 * self.cells_low / self.cells:.1f}% "
                       f"({self.cells_low} of {self.cells} below {self.below})")
        if self.worker_peak_mb:
            mem = ", ".join(f"{w} {mb:.0f} MB" for w, mb in sorted(self.worker_peak_mb.items()))
            out.append(f"peak memory: workers {mem}; this process {self.driver_peak_mb:.0f} MB")
        if self.state != "done":
            out.append("stopped before the end: run the same command again to resume")
        return out


def _duration(s: float) -> str:
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s" if m else f"{sec}s"


@dataclass
class _Doc:
    group: DocumentGroup
    source: str
    doc_id: Optional[int] = None
    n_pages: int = 0
    outstanding: set[int] = field(default_factory=set)  # pages not yet kept
    pages_read: int = 0
    was_done: bool = False  # finished (done, partial or failed) before this run


# ------------------------------------------------------------------ one batch on one database

@contextmanager
def batch_lock(store: Store) -> Iterator[None]:
    """One batch at a time per database: a lock file beside a SQLite file (flock), an advisory
    lock on PostgreSQL. Both go away with the process, however it ends."""
    url = store.engine.url
    if store.dialect == "sqlite" and url.database and url.database != ":memory:":
        import fcntl

        path = f"{url.database}-batch.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BatchError(f"another batch is running on {url.database}") from None
            yield
        finally:
            os.close(fd)
    elif store.dialect == "postgresql":
        from sqlalchemy import text

        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = "select pg_try_advisory_lock(hashtext('extractor-batch'))"
            if not conn.execute(text(key)).scalar():
                raise BatchError("another batch is running on this database")
            try:
                yield
            finally:
                conn.execute(text("select pg_advisory_unlock(hashtext('extractor-batch'))"))
    else:
        yield


class BatchRunner:
    def __init__(self, store: Store, settings: Optional[Settings] = None, options: Optional[BatchOptions] = None,
                 say: Optional[Callable[[str], None]] = None):
        self.store = store
        self.settings = settings or Settings()
        self.o = options or BatchOptions()
        self.dpi = float(self.o.dpi or self.settings.dpi)
        self._say = say
        self._stop = 0
        self._finisher = None
        self.engine: Any = None
        self.progress: Optional[Progress] = None

    # ---- entry point

    def run(self, inputs: Sequence[str]) -> BatchSummary:
        t0 = time.monotonic()
        files = discover(inputs)
        known = {f.path: (f.size, f.mtime_ns, f.content_hash) for f in self.store.batch_files() if f.content_hash}
        hash_files(files, known)
        groups = group_by_content(files)
        with batch_lock(self.store):
            for r in self.store.batch_runs():  # we hold the lock: a run still "running" was killed
                if r.state == "running":
                    self.store.update_batch_run(r.id, state="interrupted", stats={"ended": "killed"})
            run_id = self.store.start_batch_run(self.o.engine, self.o.workers, host=socket.gethostname(), stats={
                "inputs": [str(i) for i in inputs], "dpi": self.dpi, "settings": self.settings.model_dump()})
            self.store.record_batch_files(run_id, [f.record() for f in files])
            state, pages_read = "failed", 0
            docs: list[_Doc] = []
            try:
                with self._signals():
                    try:
                        docs, pages_read, worker_mem = self._run(run_id, groups)
                    except EngineError as e:  # the workers cannot run at all
                        raise BatchError(str(e)) from None
                state = "interrupted" if self._stop else "done"
            finally:
                if self.progress is not None:
                    self.progress.close()
                self.store.update_batch_run(run_id, state=state, pages_done=pages_read)
            summary = self._summary(run_id, state, files, groups, docs, pages_read, time.monotonic() - t0, worker_mem)
            self.store.update_batch_run(run_id, stats={"summary": summary.to_dict()})
            return summary

    # ---- the work

    def _run(self, run_id: int, groups: list[DocumentGroup]) -> tuple[list[_Doc], int, dict[str, float]]:
        probes: deque[dict] = deque()
        pages: deque[dict] = deque()
        docs: dict[str, _Doc] = {}
        attempts: dict[tuple, int] = {}
        worker_mem: dict[str, float] = {}
        to_finish: list[_Doc] = []
        for g in groups:
            info = self.store.get_by_hash(g.content_hash)
            if info is not None and info.status == "failed" and self.o.retry_failed:
                self.store.delete_document(info.id)
                info = None
            d = _Doc(g, source=info.source if info is not None else g.name)
            docs[g.content_hash] = d
            if info is None:
                probes.append({"kind": "probe", "path": g.path, "hash": g.content_hash})
                continue
            d.doc_id, d.n_pages = info.id, info.n_pages
            if info.status != "pending":
                d.was_done = True
                continue
            if info.n_pages == 0:  # registered elsewhere without a page count
                probes.append({"kind": "probe", "path": g.path, "hash": g.content_hash})
                continue
            kept = self.store.batch_page_numbers(info.id)
            d.outstanding = {n for n in range(1, info.n_pages + 1) if n not in kept}
            if d.outstanding:
                pages.extend(self._page_task(d, n) for n in sorted(d.outstanding))
            else:
                to_finish.append(d)  # every page was kept, the run stopped before saving it whole

        self.progress = Progress(len(groups), quiet=self.o.quiet)
        self.progress.docs_done = sum(d.was_done for d in docs.values())
        self.progress.add_pages(len(pages))
        for d in to_finish:
            self._complete(d)
        if not probes and not pages:
            return list(docs.values()), 0, worker_mem

        pages_read = 0
        self.engine = make_engine(self.o.engine, self.settings.model_dump(), self.o.workers, self.o.threads,
                                  self.o.address, self.o.task_timeout, self.o.ship_files)
        self.progress.note("starting workers")
        try:
            self.engine.start(should_stop=lambda: self._stop > 0)
        except EngineError as e:
            self.engine.close(abort=True)
            raise BatchError(str(e)) from None
        finally:
            self._install_handlers()
        self.progress.note("")
        self._tell(f"{self.engine.describe()}")
        self.store.update_batch_run(run_id, stats={"engine": self.engine.describe(), "workers": self.engine.n_workers})
        try:
            while True:
                if self._stop >= 2:
                    break
                if not self._stop:
                    while self.engine.free_slots() and (probes or pages):
                        self.engine.submit(probes.popleft() if probes else pages.popleft())
                if self.engine.busy() == 0 and (self._stop or not (probes or pages)):
                    break
                for oc in self.engine.poll(0.5):
                    t = oc.task
                    d = docs[t["hash"]]
                    if oc.ok and "worker" in oc.result and "peak_rss_mb" in oc.result:
                        w = oc.result["worker"]
                        worker_mem[w] = max(worker_mem.get(w, 0.0), float(oc.result["peak_rss_mb"]))
                    if not oc.ok and self._stop:
                        continue  # lost to the stop: read again next run
                    key = (t["hash"], t["kind"], t.get("page"))
                    if not oc.ok and oc.category == "worker_crash" and attempts.get(key, 0) < self.o.retries:
                        attempts[key] = attempts.get(key, 0) + 1
                        log.warning("%s: %s; trying again", _what(t), oc.error)
                        (probes if t["kind"] == "probe" else pages).appendleft(t)
                        continue
                    if t["kind"] == "probe":
                        self._probed(d, oc, pages)
                    else:
                        self._page_read(d, oc, run_id)
                        pages_read += 1
                        if pages_read % 20 == 0:
                            self.store.update_batch_run(run_id, pages_done=pages_read)
                    if self._stop == 1 and self.engine.busy():
                        self.progress.note(f"stopping: finishing {self.engine.busy()} page(s) in flight "
                                           "(Ctrl-C again to stop now)")
        finally:
            self.engine.close(abort=self._stop >= 2)
        return list(docs.values()), pages_read, worker_mem

    def _page_task(self, d: _Doc, n: int) -> dict:
        return {"kind": "page", "path": d.group.path, "hash": d.group.content_hash, "page": n, "dpi": self.dpi}

    def _probed(self, d: _Doc, oc, pages: deque) -> None:
        g = d.group
        if not oc.ok:
            self.store.fail_document(g.content_hash, g.name, stored_name(f"reading it stopped the worker: {oc.error}"),
                                     category="worker_crash")
            self._failed(d, oc.error)
            return
        if "error" in oc.result:
            self.store.fail_document(g.content_hash, g.name, stored_name(oc.result["error"]))
            self._failed(d, oc.result["error"])
            return
        n = int(oc.result["n_pages"])
        if n > self.o.max_pages:
            why = f"too many pages ({n}; the limit is {self.o.max_pages}, --max-pages)"
            self.store.fail_document(g.content_hash, g.name, why, category="too_many_pages", n_pages=n)
            self._failed(d, why)
            return
        d.doc_id = self.store.register_document(g.content_hash, g.name, n)
        d.n_pages = n
        kept = self.store.batch_page_numbers(d.doc_id)
        d.outstanding = {p for p in range(1, n + 1) if p not in kept}
        pages.extend(self._page_task(d, p) for p in sorted(d.outstanding))
        self.progress.add_pages(len(d.outstanding))
        if not d.outstanding:
            self._complete(d)

    def _failed(self, d: _Doc, why: str) -> None:
        self.progress.write(f"failed: {d.group.name}: {stored_name(why)}")
        self.progress.doc_done()

    def _page_read(self, d: _Doc, oc, run_id: int) -> None:
        n = int(oc.task["page"])
        if oc.ok:
            page = Page.model_validate_json(oc.result["page"])
            worker, mem = oc.result.get("worker", ""), oc.result.get("peak_rss_mb")
        else:  # the worker died on this page (twice), or the page went past its time or memory limit:
            # the page fails, the document goes on
            page = Page(page=n, width=0, height=0, failures=[
                Failure(stage="pipeline", category=oc.category, message=oc.error, page=n)])
            worker, mem = "", None
        assert d.doc_id is not None
        self.store.save_batch_page(d.doc_id, page, run_id=run_id, worker=worker, peak_rss_mb=mem)
        d.outstanding.discard(n)
        d.pages_read += 1
        self.progress.page_done()
        if not d.outstanding:
            self._complete(d)

    def _complete(self, d: _Doc) -> None:
        """Every page is kept: assemble the document, run the document-level stages, save it whole."""
        assert d.doc_id is not None
        pages = self.store.load_batch_pages(d.doc_id)
        doc = Document(source=d.source, n_pages=d.n_pages, extractor_version=__version__, pages=pages)
        self.finisher.finish(doc)
        self.store.complete_batch_document(doc, d.group.content_hash)
        if self.engine is not None and hasattr(self.engine, "release_file"):
            self.engine.release_file(d.group.content_hash)
        self.progress.doc_done()

    @property
    def finisher(self):
        """The document-level stages in this process (finish.DocumentFinisher: no OCR model; the
        KPI level classifier loads on the first document with KPI rows)."""
        if self._finisher is None:
            from ..finish import DocumentFinisher

            upd: dict[str, Any] = {"workers": 1}
            if self.settings.device == "cuda":  # the GPUs are the workers'; this process needs none
                upd["device"] = "cpu"
            self._finisher = DocumentFinisher(self.settings.model_copy(update=upd))
        return self._finisher

    # ---- the summary

    def _summary(self, run_id: int, state: str, files: list[FoundFile], groups: list[DocumentGroup],
                 docs: list[_Doc], pages_read: int, seconds: float, worker_mem: dict[str, float]) -> BatchSummary:
        by_hash = {d.group.content_hash: d for d in docs}
        outcomes: list[DocOutcome] = []
        for g in groups:
            info = self.store.get_by_hash(g.content_hash)
            d = by_hash.get(g.content_hash)
            status = info.status if info is not None else "pending"
            reasons: list[str] = []
            n_pages = info.n_pages if info is not None else 0
            if info is not None and status in ("failed", "partial"):
                reasons = _reasons(self.store.load_document(info.id))
            elif info is not None and status == "pending":
                kept = len(self.store.batch_page_numbers(info.id))
                reasons = [f"{kept} of {n_pages} pages read"]
            outcomes.append(DocOutcome(
                path=g.name, content_hash=g.content_hash, document_id=info.id if info else None, status=status,
                n_pages=n_pages, pages_read=d.pages_read if d else 0, source=info.source if info else "",
                duplicates=[stored_name(x) for x in g.duplicates], skipped=bool(d and d.was_done), reasons=reasons))
        ids = [o.document_id for o in outcomes if o.document_id is not None]
        cells, low = self.store.cell_confidence_counts(ids, REVIEW_BELOW) if ids else (0, 0)
        return BatchSummary(
            run_id=run_id, state=state, engine=self.engine.describe() if self.engine is not None else self.o.engine,
            files=len(files), documents=outcomes, unreadable=[(stored_name(f.path), f.error or "") for f in files if f.error],
            pages_total=sum(o.n_pages for o in outcomes if o.status != "failed"), pages_read=pages_read,
            seconds=seconds, cells=cells, cells_low=low, worker_peak_mb=worker_mem, driver_peak_mb=peak_rss_mb())

    # ---- signals and messages

    def _on_signal(self, signum, frame) -> None:
        self._stop += 1
        if self._stop == 1 and self.progress is not None:
            self.progress.note("stopping after the pages in flight (Ctrl-C again to stop now)")

    def _install_handlers(self) -> None:
        """Ctrl-C and SIGTERM ask the run to stop (installed again after Ray, which takes SIGTERM)."""
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                signal.signal(s, self._on_signal)

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        self._install_handlers()
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def stop(self) -> None:
        """Ask the run to stop after the pages in flight (what Ctrl-C does)."""
        self._stop += 1

    def _tell(self, msg: str) -> None:
        if self._say is not None:
            self._say(msg)
        elif self.progress is not None:
            self.progress.write(msg)


def _what(t: dict) -> str:
    return f"page {t['page']} of {t['path']}" if t["kind"] == "page" else t["path"]


def _reasons(doc: Document) -> list[str]:
    """Why a document failed or which of its pages did, in a few words."""
    out = [f"{f.message}" if f.category == "input_error" else f"{f.category}: {f.message}" for f in doc.failures
           if f.stage in ("ingest", "pipeline")]
    bad: dict[str, list[int]] = {}
    from ..store.convert import BENIGN_FAILURES

    for p in doc.pages:
        for f in p.failures:
            if f.category not in BENIGN_FAILURES:
                bad.setdefault(f"{f.category}: {f.message}", []).append(p.page)
    for msg, pages in bad.items():
        pl = ", ".join(str(n) for n in sorted(set(pages))[:8]) + (" …" if len(set(pages)) > 8 else "")
        out.append(f"page{'s' if len(set(pages)) > 1 else ''} {pl}: {msg}")
    return out


def run_batch(inputs: Sequence[str], db: Optional[str] = None, settings: Optional[Settings] = None,
              options: Optional[BatchOptions] = None) -> BatchSummary:
    """Run a batch from Python: ``run_batch(["archive/"], "archive.sqlite", options=BatchOptions(workers=2))``."""
    with Store(db) as store:
        store.upgrade()
        return BatchRunner(store, settings, options).run(inputs)
