"""Worker processes, in one place: how many, how a worker starts, and the file it keeps open.

Three pools use it: the pipeline's page workers (``pipeline.Pipeline``, one file's pages spread
over processes), the batch runner's local engine (``batch.engines.LocalEngine``, pages of a whole
archive) and the service's job workers (``service.worker.WorkerPool``, one queued job each).

Pools never nest, by design: a process inside any pool reads its pages one after another itself
(``in_worker`` gives its settings ``workers=1`` and its share of the cores), so the number of
processes holding models is the pool's size and no more. Each worker holds its own models
(about 1 GB with a dense page), so the default count is one per core, fewer when memory would not
hold them, and one with a GPU (one process feeds it).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional

WORKER_MEMORY_MB = 1500  # what a worker may grow to (models + a dense page): caps the default count
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
NOISY_LOGGERS = ("rapid_layout", "RapidOCR", "rapidocr")


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def available_memory_mb() -> Optional[float]:
    """Memory this process may still use: the machine's available memory, or less under a cgroup
    (v2) limit such as ``docker run --memory``."""
    mem = None
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            mem = int(line.split()[1]) / 1024
    limit, used = _read("/sys/fs/cgroup/memory.max"), _read("/sys/fs/cgroup/memory.current")
    if limit and limit.isdigit() and used and used.isdigit():
        left = (int(limit) - int(used)) / (1024 * 1024)
        mem = left if mem is None else min(mem, left)
    return mem


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, or fewer under a cgroup (v2) quota (``--cpus``)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = (_read("/sys/fs/cgroup/cpu.max") or "").split()
    if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit() and int(quota[1]) > 0:
        n = min(n, max(1, int(int(quota[0]) / int(quota[1]))))
    return max(1, n)


def worker_count(requested: int = 0, device: str = "auto") -> int:
    """``requested``; else one per core, fewer when memory would not hold them; one with ``device: cuda``."""
    if requested > 0:
        return requested
    if device == "cuda":
        return 1
    n = available_cores()
    mem = available_memory_mb()
    if mem:
        n = min(n, max(1, int(mem // WORKER_MEMORY_MB)))
    return max(1, n)


def threads_per_worker(n_workers: int, requested: int = 0) -> int:
    """``requested``, or the worker's share of the cores."""
    return requested or max(1, available_cores() // max(1, n_workers))


def in_worker(settings: dict, threads: int) -> dict:
    """Pipeline settings for a process inside a pool: its pages one after another (no nested pool)
    on its share of the cores."""
    cfg = dict(settings)
    cfg.update(workers=1, threads=max(1, threads))
    return cfg


def start_worker(threads: int, level: Optional[int] = logging.WARNING, fmt: Optional[str] = None) -> None:
    """What every worker process does first: no model downloads, its logging (``level`` None:
    left as the host set it, as in a Ray actor), quiet model loggers, and OpenCV on the worker's
    share of the cores (its own thread pool would oversubscribe them)."""
    import cv2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if level is not None:
        logging.basicConfig(level=level, **({"format": fmt} if fmt else {}))
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.ERROR)
    cv2.setNumThreads(max(1, threads))


class thread_env:
    """``with thread_env(n): process.start()``: the math libraries of a process spawned inside get
    ``n`` threads (a spawned process takes the environment as it is at start); variables already
    set are left alone, and the parent's environment is restored after."""

    def __init__(self, threads: int):
        self.threads = threads

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in THREAD_ENV}
        for k in THREAD_ENV:
            os.environ.setdefault(k, str(self.threads))

    def __exit__(self, *exc: Any) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)


class OpenFiles:
    """The source file a worker is reading, kept open for the document's next page; a file
    rewritten under the same name (other size or time) is opened afresh."""

    def __init__(self) -> None:
        self._src: Any = None
        self._key: Optional[tuple] = None

    def get(self, path: str):
        from .ingest import open_source

        st = os.stat(path)
        key = (path, st.st_mtime_ns, st.st_size)
        if self._key != key:
            self.close()
            self._src = open_source(path)
            self._key = key
        return self._src

    def close(self) -> None:
        if self._src is not None:
            try:
                self._src.close()
            except Exception:  # noqa: BLE001 - a broken file must not break the worker
                pass
        self._src, self._key = None, None
