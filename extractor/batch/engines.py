"""Where batch tasks run. An engine keeps a set of workers (each a ``PageWorker``: one Pipeline,
models loaded once) and runs one task at a time on each:

- ``LocalEngine``: worker processes on this machine (spawned, so each loads its own models);
- ``RayEngine``: Ray actors on a Ray cluster (this machine's, started on the fly, or an existing
  one: ``address="auto"``), one per CPU share, or one per GPU with ``device: cuda``.

Both report each task's outcome as ``Outcome``: ``ok`` with the worker's result dict, or ``crash``
when the worker died or timed out under it (it is replaced; the runner decides whether to retry).
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..runtime import rss_mb
from ..workers import start_worker, thread_env, threads_per_worker
from ..workers import worker_count as local_worker_count

log = logging.getLogger(__name__)

DEFAULT_TASK_TIMEOUT = 300.0  # seconds one page (or probe) may take before its worker is replaced (page_timeout)


class EngineError(RuntimeError):
    """The engine cannot run at all (workers cannot start, no cluster)."""


@dataclass
class Outcome:
    task: dict
    ok: bool
    result: dict = field(default_factory=dict)  # the worker's answer when ok
    error: str = ""  # why not
    category: str = "worker_crash"  # when not ok: worker_crash, page_timeout or page_memory (the last two
                                    # are the page's own doing: trying it again would do the same)


# ------------------------------------------------------------------ local processes

def _local_worker_main(conn, settings: dict, threads: int) -> None:
    """A worker process: load the models, then answer tasks until told to stop or the batch is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    start_worker(threads, fmt="%(levelname)s %(name)s: %(message)s")
    from .worker import PageWorker

    try:
        worker = PageWorker(settings, threads)
        conn.send(("ready", worker.ident))
    except BaseException as e:  # noqa: BLE001 - said to the batch, which stops
        try:
            conn.send(("init_error", f"{type(e).__name__}: {e}"))
        finally:
            return
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the batch is gone
            return
        if msg is None:
            return
        tid, task = msg
        try:
            res = worker.run(task)
        except Exception as e:  # noqa: BLE001
            res = {"error": f"{type(e).__name__}: {e}", "worker": worker.ident}
        try:
            conn.send((tid, res))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Slot:
    proc: Any
    conn: Any
    ident: str = ""
    ready: bool = False
    task: Optional[dict] = None
    tid: int = 0
    since: float = 0.0
    starts: int = 1


class LocalEngine:
    name = "local"

    def __init__(self, settings: dict, workers: int = 0, threads: int = 0,
                 task_timeout: float = DEFAULT_TASK_TIMEOUT):
        self.settings = dict(settings)
        # one GPU on this machine as far as we know: one process feeds it (as the pipeline does)
        self.n_workers = local_worker_count(workers, settings.get("device", "auto"))
        self.threads = threads_per_worker(self.n_workers, threads)
        self.task_timeout = task_timeout
        self._ctx = None
        self._slots: list[_Slot] = []
        self._tid = 0
        self._init_failures = 0

    def describe(self) -> str:
        return f"local: {self.n_workers} worker process{'es' if self.n_workers > 1 else ''}, {self.threads} thread(s) each"

    def start(self, wait: bool = True, timeout: float = 600.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start the workers; with ``wait``, until each has loaded its models (or ``should_stop``)."""
        import multiprocessing as mp

        self._ctx = mp.get_context("spawn")
        self._slots = [self._spawn() for _ in range(self.n_workers)]
        if wait:
            t0 = time.monotonic()
            while not all(s.ready for s in self._slots) and not should_stop():
                if time.monotonic() - t0 > timeout:
                    raise EngineError(f"the workers did not start in {timeout:.0f} s")
                self.poll(0.5)

    def _spawn(self, starts: int = 1) -> _Slot:
        parent, child = self._ctx.Pipe()
        p = self._ctx.Process(target=_local_worker_main, args=(child, self.settings, self.threads), daemon=True,
                              name="extractor-batch-worker")
        with thread_env(self.threads):  # its math libraries get its share of the cores (as Ray does for an actor)
            p.start()
        child.close()
        return _Slot(p, parent, starts=starts)

    def free_slots(self) -> int:
        return sum(1 for s in self._slots if s.ready and s.task is None)

    def busy(self) -> int:
        return sum(1 for s in self._slots if s.task is not None)

    def submit(self, task: dict, data: Optional[bytes] = None) -> None:
        slot = next(s for s in self._slots if s.ready and s.task is None)
        self._tid += 1
        slot.task, slot.tid, slot.since = task, self._tid, time.monotonic()
        try:
            slot.conn.send((slot.tid, task))
        except (BrokenPipeError, OSError):  # it has just died: the next poll reports the task as lost
            pass

    def poll(self, timeout: float) -> list[Outcome]:
        from multiprocessing.connection import wait

        out: list[Outcome] = []
        waitables = [s.conn for s in self._slots] + [s.proc.sentinel for s in self._slots]
        ready = set(wait(waitables, timeout=timeout)) if waitables else set()
        for i, s in enumerate(list(self._slots)):
            got_msg = False
            if s.conn in ready:
                try:
                    msg = s.conn.recv()
                    got_msg = True
                except (EOFError, OSError):
                    msg = None
                if got_msg:
                    tag, payload = msg
                    if tag == "ready":
                        s.ready, s.ident = True, payload
                    elif tag == "init_error":
                        self._init_failures += 1
                        raise EngineError(f"a worker could not load the pipeline: {payload}")
                    elif s.task is not None and tag == s.tid:
                        task, s.task = s.task, None
                        err = payload.get("error") if task["kind"] == "page" else None
                        out.append(Outcome(task, ok=not err, result=payload, error=err or ""))
            if not got_msg and not s.proc.is_alive():
                code = s.proc.exitcode
                if s.task is not None:
                    out.append(Outcome(s.task, ok=False, error=f"the worker died reading it (exit code {code})"))
                elif not s.ready:
                    self._init_failures += 1
                    if self._init_failures >= 3:
                        raise EngineError(f"workers keep dying while loading the models (exit code {code})")
                self._replace(i, s)
            elif s.task is not None and (over := self._over_limit(s)):
                category, why = over
                out.append(Outcome(s.task, ok=False, error=why, category=category))
                s.proc.kill()
                s.proc.join(5)
                self._replace(i, s)
        return out

    def _over_limit(self, s: _Slot) -> Optional[tuple[str, str]]:
        """(category, reason) when the task in hand has run past the time limit, or its worker holds
        more than ``page_memory_mb`` (the settings' limit) of memory; None while it is within both."""
        if self.task_timeout > 0 and time.monotonic() - s.since > self.task_timeout:
            return "page_timeout", f"timed out after {self.task_timeout:.0f} s; its worker was replaced"
        cap = float(self.settings.get("page_memory_mb") or 0)
        if cap > 0:
            rss = rss_mb(s.proc.pid)
            if rss > cap:
                return "page_memory", f"its worker grew to {rss:.0f} MB, over the limit of {cap:.0f} MB; it was replaced"
        return None

    def _replace(self, i: int, s: _Slot) -> None:
        try:
            s.conn.close()
        except OSError:
            pass
        self._slots[i] = self._spawn(s.starts + 1)

    def close(self, abort: bool = False) -> None:
        for s in self._slots:
            try:
                if abort or s.task is not None:
                    s.proc.kill()
                else:
                    s.conn.send(None)
            except (OSError, ValueError):
                pass
        for s in self._slots:
            s.proc.join(10)
            if s.proc.is_alive():
                s.proc.kill()
                s.proc.join(5)
            try:
                s.conn.close()
            except OSError:
                pass
        self._slots = []


# ------------------------------------------------------------------ Ray

class RayEngine:
    """Ray actors holding the pipeline. ``address``: ``"auto"`` (or ``host:port``, ``ray://…``) joins an
    existing cluster; None starts a Ray instance on this machine for the run. One actor per
    ``threads`` CPUs of the cluster (``workers`` caps it), or with ``device: cuda`` one per GPU.
    ``ship_files``: send each file's bytes through Ray's object store (for clusters without a shared
    filesystem); None: only when the cluster has more than one node."""

    name = "ray"

    def __init__(self, settings: dict, workers: int = 0, threads: int = 0, address: Optional[str] = None,
                 task_timeout: float = DEFAULT_TASK_TIMEOUT, ship_files: Optional[bool] = None,
                 num_cpus: Optional[int] = None):
        self.settings = dict(settings)
        self.requested = workers
        self.threads = threads or 1
        self.address = address
        self.task_timeout = task_timeout
        self.ship_files = ship_files
        self.num_cpus = num_cpus
        self.gpus = self.settings.get("device") == "cuda"
        self.n_workers = 0
        self._actors: list[Any] = []
        self._busy: dict[Any, tuple[int, dict, float]] = {}  # object ref -> (actor index, task, since)
        self._free: list[int] = []
        self._started_ray = False
        self._data_refs: dict[str, Any] = {}

    def describe(self) -> str:
        where = self.address or "a Ray instance on this machine"
        per = "1 GPU" if self.gpus else f"{self.threads} CPU"
        return f"ray ({where}): {self.n_workers} actors, {per} each" + (", files shipped" if self.ship_files else "")

    def start(self, wait: bool = True, timeout: float = 600.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Join or start Ray and create the actors; with ``wait``, until each has loaded its models."""
        try:
            import ray
        except ImportError:
            raise EngineError("the ray engine needs Ray: pip install 'extractor[ray]'") from None
        env = {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "EXTRACTOR_MODELS", "EXTRACTOR_BATCH_CACHE")
               if k in os.environ}
        env.setdefault("HF_HUB_OFFLINE", "1")
        if not ray.is_initialized():
            kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=True, logging_level=logging.WARNING,
                                      runtime_env={"env_vars": env})
            if self.address:
                kw["address"] = self.address
            else:  # a fresh instance for this run, whatever clusters this machine knows of
                kw["address"] = "local"
                kw["num_cpus"] = self.num_cpus or local_worker_count(self.requested) * self.threads
            try:
                ray.init(**kw)
            except Exception as e:  # no cluster at that address, …
                raise EngineError(f"could not start or join Ray ({type(e).__name__}: {e})") from None
            self._started_ray = True
        res = ray.cluster_resources()
        if self.gpus:
            n = int(res.get("GPU", 0))
            if n < 1:
                raise EngineError("device: cuda, but the Ray cluster has no GPU")
        else:
            n = max(1, int(res.get("CPU", 1) // self.threads))
        self.n_workers = min(n, self.requested) if self.requested else n
        if self.ship_files is None:
            self.ship_files = len([nd for nd in ray.nodes() if nd.get("Alive")]) > 1
        from .worker import PageWorker

        actor_cls = ray.remote(PageWorker)
        opts: dict[str, Any] = dict(num_cpus=self.threads, max_restarts=-1, max_task_retries=0)
        if self.gpus:
            opts["num_gpus"] = 1
        self._actors = [actor_cls.options(**opts).remote(self.settings, self.threads) for _ in range(self.n_workers)]
        self._free = list(range(self.n_workers))
        if wait:  # the models are loaded when an actor is constructed
            refs = [a.__ray_ready__.remote() for a in self._actors]
            t0 = time.monotonic()
            ready, pending = [], refs
            while pending and not should_stop() and time.monotonic() - t0 < timeout:
                ready, pending = ray.wait(refs, num_returns=len(refs), timeout=1.0)
            if should_stop():
                return
            if pending:
                raise EngineError(f"{len(pending)} of {len(refs)} Ray actors did not start in {timeout:.0f} s "
                                  "(not enough CPUs/GPUs or memory in the cluster?)")
            try:
                ray.get(ready)
            except Exception as e:
                raise EngineError(f"a Ray actor could not load the pipeline: {e}") from None

    def free_slots(self) -> int:
        return len(self._free)

    def busy(self) -> int:
        return len(self._busy)

    def submit(self, task: dict, data: Optional[bytes] = None) -> None:
        import ray

        i = self._free.pop(0)
        args: list[Any] = [task]
        if self.ship_files:
            ref = self._data_refs.get(task["hash"])
            if ref is None:
                with open(task["path"], "rb") as f:
                    ref = self._data_refs[task["hash"]] = ray.put(f.read())
            args.append(ref)
        ref = self._actors[i].run.remote(*args)
        self._busy[ref] = (i, task, time.monotonic())

    def release_file(self, content_hash: str) -> None:
        """The document is done: its shipped bytes may leave the object store."""
        self._data_refs.pop(content_hash, None)

    def poll(self, timeout: float) -> list[Outcome]:
        import ray
        from ray.exceptions import RayActorError

        if not self._busy:
            time.sleep(min(timeout, 0.05))
            return []
        refs = list(self._busy)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        out: list[Outcome] = []
        for ref in ready:
            i, task, _since = self._busy.pop(ref)
            try:
                res = ray.get(ref)
                err = res.get("error") if task["kind"] == "page" else None
                out.append(Outcome(task, ok=not err, result=res, error=err or ""))
            except RayActorError as e:  # the actor died under the task: Ray restarts it
                out.append(Outcome(task, ok=False, error=f"the worker died reading it ({type(e).__name__})"))
            except Exception as e:  # noqa: BLE001 - an actor restarting, a task error: the task is lost
                first = (str(e).splitlines() or [""])[0][:300]
                out.append(Outcome(task, ok=False, error=f"{type(e).__name__}: {first}"))
            self._free.append(i)
        now = time.monotonic()
        for ref, (i, task, since) in list(self._busy.items()):
            if now - since > self.task_timeout:
                ray.kill(self._actors[i], no_restart=False)  # restarted with its models
                self._busy.pop(ref)
                out.append(Outcome(task, ok=False, category="page_timeout",
                                   error=f"timed out after {self.task_timeout:.0f} s; its actor was restarted"))
                self._free.append(i)
        return out

    def close(self, abort: bool = False) -> None:
        try:
            import ray
        except ImportError:
            return
        for a in self._actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:
                pass
        self._actors, self._busy, self._free, self._data_refs = [], {}, [], {}
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
            self._started_ray = False


def make_engine(kind: str, settings: dict, workers: int = 0, threads: int = 0, address: Optional[str] = None,
                task_timeout: float = DEFAULT_TASK_TIMEOUT, ship_files: Optional[bool] = None):
    if kind == "local":
        return LocalEngine(settings, workers, threads, task_timeout)
    if kind == "ray":
        return RayEngine(settings, workers, threads, address, task_timeout, ship_files)
    raise ValueError(f"unknown engine {kind!r} (local or ray)")
