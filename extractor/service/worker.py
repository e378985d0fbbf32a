"""Job workers: processes that claim queued jobs from the store and run the real Pipeline on the
uploaded file, one job at a time, models loaded once per process.

Everything a job needs is in the database (the uploaded file, the job row), so any worker of any
service instance on the same database can run it, and nothing is lost when a service dies:

- a worker saves the document whole, with its page images, in one transaction, and only then marks
  the job done; progress (pages done) is written after every page, and refreshes the job's
  ``updated_at``, which a heartbeat thread also refreshes while a long page is read;
- a job left ``running`` by a worker that is gone goes back to the queue (``recover_jobs``): at
  start-up and every few seconds after, a job claimed on this host by a service process that no
  longer exists is released at once; one silent for ``lease_seconds`` (its host gone) too;
- a worker that dies under a job (the OOM killer, a crash in a native library) is replaced and its
  job released; a job whose workers died ``max_attempts`` times is failed, so one poisonous file
  cannot take the workers down forever;
- a page that runs past ``page_timeout`` or a worker grown past ``page_memory_mb`` (settings of the
  pipeline): the supervisor kills the worker (it is replaced) and fails the job and its document with
  that reason at once, so the file is not tried again; rendering itself runs in a sandbox
  (ingest.sandbox) whose limits fail only the page;
- the service stops its workers with SIGTERM: the job in hand is put back in the queue; workers die
  with the service (PR_SET_PDEATHSIG) when it is killed outright.
"""
from __future__ import annotations

import ctypes
import logging
import multiprocessing as mp
import os
import re
import signal
import socket
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from .. import workers
from ..config import ServiceSettings
from ..workers import start_worker
from ..runtime import rss_mb
from ..store import JobInfo, Store

log = logging.getLogger(__name__)

HOST = socket.gethostname()


def worker_name(service_pid: int, index: int) -> str:
    return f"{HOST}:{service_pid}:w{index}"


def _owner(worker: Optional[str]) -> tuple[Optional[str], Optional[int]]:
    """(host, service pid) of a worker name made by ``worker_name``."""
    m = re.fullmatch(r"(.*):(\d+):w\d+", worker or "")
    return (m.group(1), int(m.group(2))) if m else (None, None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def recover_jobs(store: Store, lease_seconds: float, now: Optional[datetime] = None) -> list[int]:
    """Put back in the queue the running jobs whose worker is gone: claimed on this host by a
    service process that no longer runs, or not heard of (progress, heartbeat) for
    ``lease_seconds``. Returns their ids."""
    now = now or datetime.now(timezone.utc)
    released = []
    for job in store.list_jobs(state="running"):
        host, pid = _owner(job.worker)
        dead = host == HOST and pid is not None and pid != os.getpid() and not _pid_alive(pid)
        silent = now - job.updated_at > timedelta(seconds=lease_seconds)
        if (dead or silent) and store.release_job(job.id, job.worker):
            log.warning("job %d: its worker %s is gone; queued again", job.id, job.worker)
            released.append(job.id)
    return released


# ------------------------------------------------------------------ in the worker process

class _Stop(BaseException):
    """SIGTERM while a job is in hand (a BaseException, so no ``except Exception`` swallows it)."""


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the service process dies (kill -9 included)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent-pid check in the loop still stops us
        pass


class _Heartbeat(threading.Thread):
    """Refreshes a running job's ``updated_at`` while a long page is read."""

    def __init__(self, store: Store, job_id: int, every: float):
        super().__init__(daemon=True, name=f"heartbeat-{job_id}")
        self.store, self.job_id, self.every = store, job_id, every
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every):
            try:
                self.store.update_job(self.job_id)
            except Exception as e:  # noqa: BLE001 - a missed beat is not fatal
                log.warning("heartbeat of job %d: %s", self.job_id, e)


def _safe_name(name: str) -> str:
    base = os.path.basename(name).strip() or "upload"
    return re.sub(r"[^\w.\-()（）\u4e00-\u9fff]+", "_", base)[:120]


def _failure_summary(doc: Any) -> str:
    """'page 2: page_timeout: …; page 5: …' for the pages that failed (blank pages are not failures)."""
    from ..store.convert import BENIGN_FAILURES

    parts = [f"page {f.page or p.page}: {f.category}: {f.message}" for p in doc.pages for f in p.failures
             if f.category not in BENIGN_FAILURES]
    return "; ".join(parts)[:2000]


def run_job(store: Store, pipeline: Any, settings: ServiceSettings, job: JobInfo, worker: str,
            page_started: Optional[Any] = None) -> None:
    """Extract the document of a claimed job and save it (see the module docstring).
    ``page_started()`` is called as each page is begun (the supervisor times pages by it). The job
    ends ``done`` (its document done, or partial: ``error`` then names the failed pages) or
    ``failed`` (no page could be read)."""
    from ..ingest import InputError
    from ..store.convert import document_status
    from .images import page_images

    if job.attempts > settings.max_attempts:
        store.update_job(job.id, state="failed",
                         error=f"given up: its worker stopped under it {job.attempts - 1} times")
        return
    info = store.get_document(job.document_id)
    if info.status != "pending":  # extracted meanwhile (another job, a batch)
        n = sum(1 for st in store.page_statuses(info.id).values() if st != "pending")
        store.update_job(job.id, state="done", pages_done=n, pages_total=n)
        return
    upload = store.load_upload(job.document_id)
    beat = _Heartbeat(store, job.id, max(1.0, settings.lease_seconds / 4))
    beat.start()
    if page_started:
        page_started()
    try:
        with tempfile.TemporaryDirectory(prefix="extractor-job-") as d:
            path = Path(d) / _safe_name(upload.filename)
            path.write_bytes(upload.data)

            def progress(done: int, total: int) -> None:
                store.update_job(job.id, pages_done=done, pages_total=total)
                if page_started:
                    page_started()

            try:
                doc = pipeline.run(path, progress=progress)
            except InputError as e:
                store.fail_document(info.content_hash, upload.filename, e.reason)
                store.update_job(job.id, state="failed", error=e.reason)
                return
            doc.source = upload.filename
            images = page_images(path, doc, settings.page_image_max_side, sandbox=pipeline.sandbox)
        store.save_document(doc, info.content_hash, images=images)
        status, why = document_status(doc), _failure_summary(doc)
        store.update_job(job.id, state="failed" if status == "failed" else "done", pages_done=len(doc.pages),
                         pages_total=len(doc.pages), error=(f"{status}: {why}" if why else None))
        log.info("job %d (document %d, %s): %d pages, %s", job.id, info.id, upload.filename, len(doc.pages), status)
    except Exception as e:  # noqa: BLE001 - the job fails, the worker goes on
        log.exception("job %d failed", job.id)
        store.update_job(job.id, state="failed", error=f"{type(e).__name__}: {e}"[:2000])
    finally:
        beat.done.set()


def worker_main(cfg: dict, name: str, parent_pid: int, ready: Any = None, index: int = 0,
                busy_since: Any = None) -> None:
    """A worker process: load the models, then claim and run jobs until told to stop. ``ready``: a
    shared array whose ``index`` slot is set once the models are loaded; ``busy_since``: one whose
    slot holds the monotonic time the page in hand was begun (0 when idle), for the supervisor."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the service, which stops us with SIGTERM
    state = {"stop": False, "busy": False}

    def on_term(signum: int, frame: Any) -> None:
        state["stop"] = True
        if state["busy"]:
            raise _Stop()

    signal.signal(signal.SIGTERM, on_term)
    if os.getppid() != parent_pid:
        return
    from ..pipeline import Pipeline

    settings = ServiceSettings(**cfg)
    start_worker(settings.pipeline.threads, logging.INFO, f"%(levelname)s {name} %(name)s: %(message)s")

    def mark() -> None:
        if busy_since is not None:
            busy_since[index] = time.monotonic()

    store = Store(settings.db)
    pipeline = Pipeline(settings.pipeline)
    try:
        pipeline.warm_up()
        if ready is not None:
            ready[index] = 1
        while not state["stop"] and os.getppid() == parent_pid:
            try:
                job = store.next_queued(name) if store.has_queued_jobs() else None
            except Exception as e:  # noqa: BLE001 - the database may be briefly unreachable
                log.warning("claiming a job: %s", e)
                job = None
            if job is None:
                time.sleep(settings.poll_seconds)
                continue
            state["busy"] = True
            try:
                if state["stop"]:
                    raise _Stop()
                run_job(store, pipeline, settings, job, name, page_started=mark)
            except _Stop:
                store.release_job(job.id, name)
                log.info("stopped: job %d queued again", job.id)
                break
            finally:
                state["busy"] = False
                if busy_since is not None:
                    busy_since[index] = 0.0
    finally:
        pipeline.close()
        store.close()


# ------------------------------------------------------------------ in the service process


def worker_count(settings: ServiceSettings) -> int:
    """Job workers (see workers.worker_count: one per core, fewer when memory would not hold them)."""
    return workers.worker_count(settings.workers, settings.pipeline.device)


class WorkerPool:
    """The service's job workers: ``n`` processes, replaced when one dies (its job released), and
    the periodic ``recover_jobs``."""

    def __init__(self, settings: ServiceSettings, n: Optional[int] = None):
        self.settings = settings
        self.n = n or worker_count(settings)
        # pages one after another in each worker (no nested pool); the workers share the cores out
        pipe = workers.in_worker(settings.pipeline.model_dump(), workers.threads_per_worker(self.n, settings.pipeline.threads))
        self.cfg = settings.model_dump()
        self.cfg["pipeline"] = pipe
        self.names = [worker_name(os.getpid(), i + 1) for i in range(self.n)]
        self.procs: list[Optional[mp.process.BaseProcess]] = [None] * self.n
        self._ctx = mp.get_context("spawn")
        self._ready = self._ctx.Array("b", self.n, lock=False)  # set by each worker once its models are loaded
        self._since = self._ctx.Array("d", self.n, lock=False)  # when each worker began its page in hand (0: idle)
        self._stop = threading.Event()
        self._stopping = False
        self._lock = threading.Lock()  # no worker is replaced while the pool is being stopped
        self._thread: Optional[threading.Thread] = None
        self.restarts = 0

    def _spawn(self, i: int) -> None:
        self._ready[i] = 0
        self._since[i] = 0.0
        p = self._ctx.Process(target=worker_main, args=(self.cfg, self.names[i], os.getpid(), self._ready, i, self._since),
                              name=f"extractor-worker-{i + 1}", daemon=True)
        p.start()
        self.procs[i] = p

    def start(self) -> None:
        for i in range(self.n):
            self._spawn(i)
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="extractor-supervisor")
        self._thread.start()

    def alive(self) -> int:
        return sum(1 for p in self.procs if p is not None and p.is_alive())

    def ready(self) -> int:
        """Workers alive with their models loaded."""
        return sum(1 for i, p in enumerate(self.procs) if p is not None and p.is_alive() and self._ready[i])

    def _supervise(self) -> None:
        store = Store(self.settings.db)
        last_recover = 0.0
        try:
            while not self._stop.wait(1.0):
                self._enforce_page_limits(store)
                for i, p in enumerate(self.procs):
                    if p is None or p.is_alive():
                        continue
                    with self._lock:
                        if self._stopping:
                            break
                        log.error("worker %s exited (code %s): replaced", self.names[i], p.exitcode)
                        for job in store.list_jobs(state="running"):
                            if job.worker == self.names[i]:
                                store.release_job(job.id, self.names[i])
                        self.restarts += 1
                        self._spawn(i)  # from this thread, which outlives the workers (PR_SET_PDEATHSIG)
                if time.monotonic() - last_recover > 10:
                    recover_jobs(store, self.settings.lease_seconds)
                    last_recover = time.monotonic()
        except Exception:  # noqa: BLE001 - the service goes on; jobs are recovered at the next start
            log.exception("worker supervisor stopped")
        finally:
            store.close()

    def _enforce_page_limits(self, store: Store) -> None:
        """A worker whose page in hand has run past ``page_timeout``, or which holds more than
        ``page_memory_mb`` of memory, is killed (it is replaced by the supervisor loop) and its job
        and document fail with the reason, so the file is never tried again by another worker."""
        lim = self.settings.pipeline
        for i, p in enumerate(self.procs):
            since = self._since[i]
            if p is None or since <= 0 or not p.is_alive():
                continue
            over = None
            if lim.page_timeout > 0 and time.monotonic() - since > lim.page_timeout:
                over = ("page_timeout", f"reading it took longer than {lim.page_timeout:g} s")
            elif lim.page_memory_mb > 0:
                rss = rss_mb(p.pid)
                if rss > lim.page_memory_mb:
                    over = ("page_memory", f"reading it took {rss:.0f} MB, over the limit of {lim.page_memory_mb} MB")
            if over is None:
                continue
            with self._lock:
                if self._stopping:
                    return
                p.kill()
                p.join(10)
                self._since[i] = 0.0
                for job in store.list_jobs(state="running"):
                    if job.worker != self.names[i]:
                        continue
                    category, why = over
                    reason = f"page {job.pages_done + 1}: {why}; its worker was replaced"
                    log.error("job %d: %s: %s", job.id, category, reason)
                    info = store.get_document(job.document_id)
                    store.fail_document(info.content_hash, info.source, reason, category=category, stage="pipeline",
                                        n_pages=job.pages_total or 0)
                    store.update_job(job.id, state="failed", error=f"{category}: {reason}")

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM to every worker (each puts its job back in the queue), then wait; kill stragglers.
        The supervisor thread is stopped last: a worker dies with the thread that started it."""
        with self._lock:
            self._stopping = True
        for p in self.procs:
            if p is not None and p.is_alive():
                p.terminate()
        deadline = time.monotonic() + timeout
        for p in self.procs:
            if p is not None:
                p.join(timeout=max(0.1, deadline - time.monotonic()))
                if p.is_alive():
                    p.kill()
                    p.join(timeout=5)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
