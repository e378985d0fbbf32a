"""Pages rendered under limits the OS enforces.

A PDF can cost far more to render than its size says: form XObjects nested four deep, 60 draws
each, are 13 million fills in a 10 KB file, and the renderer's time and memory grow with them until
the machine is gone. So a page is never rendered in a process that holds anything of value. A
``RenderSandbox`` keeps one helper process (``python -m extractor.ingest.sandbox``) that:

- runs with ``RLIMIT_AS`` (its address space: the renderer cannot allocate past it; pdfium aborts,
  or Python raises MemoryError) and no core dumps;
- is killed (SIGKILL) by its parent when one page takes longer than the wall-clock limit;
- dies with its parent (PR_SET_PDEATHSIG);
- answers in a plain format (a JSON header line and the raw pixels), never pickle, so a helper
  that a hostile file took over cannot run code in its parent.

A page over a limit raises :class:`PageLimitError` with category ``page_timeout`` or
``page_memory`` (``render_crash`` for a helper that died for another reason); the helper is
replaced for the next page. Unreadable pages raise :class:`ingest.InputError` as an in-process
render would.
"""
from __future__ import annotations

import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np

from . import MAX_PIXELS, InputError, PageImage

HEADER_MAX = 64 * 1024  # bytes of a reply's header line
MAX_META = 64 * 1024 * 1024  # bytes of a text layer's characters in one reply


class PageLimitError(Exception):
    """A page over its time or memory limit, or one the renderer failed on. ``category``:
    ``page_timeout``, ``page_memory``, ``render_crash`` (the helper died) or ``render_error`` (it
    raised on the page)."""

    def __init__(self, path: str | os.PathLike, page: int, category: str, reason: str):
        self.path, self.page, self.category, self.reason = str(path), page, category, reason
        super().__init__(f"{self.path}: page {page}: {reason}")


def _vm_peak_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class RenderSandbox:
    """Renders pages in a helper process under ``timeout`` seconds (wall clock, per page) and
    ``memory_mb`` of address space. One per process that reads pages; not thread-safe."""

    def __init__(self, timeout: float = 60.0, memory_mb: int = 1024):
        self.timeout = float(timeout) if timeout and timeout > 0 else float("inf")  # 0: no limit
        self.memory_mb = int(memory_mb) if memory_mb and memory_mb > 0 else 0  # 0: no limit
        self._proc: Optional[subprocess.Popen] = None
        self._err = None
        self._pending = b""  # bytes of a reply read past its header line
        self.restarts = 0

    @property
    def pid(self) -> Optional[int]:
        """The helper's process id (None before the first page, or after it was stopped)."""
        return self._proc.pid if self._proc is not None else None

    # ---- the helper process
    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])  # the directory that holds the package
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = "1"  # a thread pool's stacks would eat the address-space budget
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "extractor.ingest.sandbox", str(self.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env, close_fds=True)
        return self._proc

    def _stop(self) -> None:
        p, self._proc = self._proc, None
        if p is not None:
            try:
                p.kill()
            except OSError:
                pass
            p.wait()
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        if self._err is not None:
            self._err.close()
            self._err = None

    def close(self) -> None:
        self._stop()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self._stop()
        except Exception:
            pass

    def _stderr_tail(self) -> str:
        if self._err is None:
            return ""
        try:
            self._err.seek(0, os.SEEK_END)
            n = self._err.tell()
            self._err.seek(max(0, n - 300))
            lines = self._err.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1][:200] if lines else ""

    # ---- one page
    def render(self, path: str | os.PathLike, number: int, dpi: float = 200.0) -> PageImage:
        """Page ``number`` (1-based) of ``path`` as greyscale, rendered in the helper."""
        head, data = self._call(path, number, dpi, "page")
        gray = np.frombuffer(data, dtype=np.uint8).reshape(int(head["h"]), int(head["w"]))  # writable, not copied
        return PageImage(number, gray, float(head["dpi"]) if head.get("dpi") else None)

    def rulings(self, path: str | os.PathLike, number: int, dpi: float = 200.0) -> np.ndarray:
        """Page ``number``'s rulings drawn alone at ``dpi`` (textlayer.read.read_rulings), in the helper."""
        head, data = self._call(path, number, dpi, "rulings")
        return np.frombuffer(data, dtype=np.uint8).reshape(int(head["h"]), int(head["w"]))

    def layer(self, path: str | os.PathLike, number: int, dpi: float = 200.0):
        """Page ``number`` of a PDF read in the helper for its text layer (textlayer.read_layer):
        the page as printed, its rulings drawn alone and its characters."""
        from ..textlayer.read import Layer

        head, data = self._call(path, number, dpi, "layer")
        h, w, rh, rw = (int(head[k]) for k in ("h", "w", "rh", "rw"))
        n, m = h * w, rh * rw
        try:
            meta = json.loads(bytes(data[n + m:]))
            gray = np.frombuffer(data, dtype=np.uint8, count=n).reshape(h, w) if n else None
            rulings = np.frombuffer(data, dtype=np.uint8, count=m, offset=n).reshape(rh, rw) if m else None
            return Layer.from_meta(meta, gray, rulings)
        except (ValueError, KeyError, TypeError):
            raise PageLimitError(path, number, "render_crash", "the renderer's answer was not readable") from None

    def _call(self, path: str | os.PathLike, number: int, dpi: float, kind: str) -> tuple[dict, bytearray]:
        """One request to the helper: its header and the bytes after it, within the limits."""
        p = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        self._pending = b""
        req = json.dumps({"path": os.fsdecode(os.fspath(path)), "page": int(number), "dpi": float(dpi), "kind": kind},
                         ensure_ascii=True).encode() + b"\n"
        deadline = time.monotonic() + self.timeout
        peak = [0.0]
        try:
            p.stdin.write(req)
            p.stdin.flush()
            header = self._read_line(p, deadline, peak)
            head = json.loads(header)
            if not head.get("ok"):
                cat, reason = str(head.get("category", "corrupt")), str(head.get("reason", ""))[:500]
                if cat == "page_memory":
                    self._stop()  # a helper that ran out of memory is not reused
                    raise PageLimitError(path, number, cat, f"rendering it needed more than {self.memory_mb} MB")
                if cat == "render_error":
                    raise PageLimitError(path, number, "render_error", reason)
                raise InputError(path, reason, cat)
            h, w = int(head["h"]), int(head["w"])
            least = 0 if kind == "layer" else 1  # a layer's answer may hold no page image
            if not (least <= h and least <= w and h * w <= MAX_PIXELS * 1.01):  # the renderer rounds up
                raise ValueError(f"bad image size {w}x{h}")
            extra = int(head.get("meta", 0))
            if not 0 <= extra <= MAX_META:
                raise ValueError(f"bad answer length {extra}")
            rh, rw = int(head.get("rh", 0)), int(head.get("rw", 0))
            if not (0 <= rh and 0 <= rw and rh * rw <= MAX_PIXELS * 1.01):
                raise ValueError(f"bad rulings size {rw}x{rh}")
            size = h * w + (rh * rw + extra if kind == "layer" else 0)
            data = self._read_exact(p, size, deadline, peak)
        except TimeoutError:
            self._stop()
            self.restarts += 1
            raise PageLimitError(path, number, "page_timeout",
                                 f"rendering it took longer than {self.timeout:g} s (stopped)") from None
        except (EOFError, BrokenPipeError, OSError, ValueError, KeyError, TypeError) as e:
            try:
                code = p.wait(2)  # it has closed its end: it is dying, or give it a moment
            except subprocess.TimeoutExpired:
                code = None
            tail = self._stderr_tail()
            self._stop()
            self.restarts += 1
            died = f"the renderer died (exit code {code})" if code is not None else f"the renderer failed ({e})"
            near_limit = self.memory_mb and (peak[0] >= 0.75 * self.memory_mb or "memory" in tail.lower())
            if near_limit or (self.memory_mb and code in (-signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS)) or code == -signal.SIGKILL:
                raise PageLimitError(path, number, "page_memory",
                                     f"rendering it needed more than {self.memory_mb} MB ({died})") from None
            raise PageLimitError(path, number, "render_crash", f"{died}{': ' + tail if tail else ''}") from None
        return head, data

    def _wait_readable(self, p: subprocess.Popen, deadline: float, peak: list) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(p.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sel.select(min(left, 0.05)):
                    return
                peak[0] = max(peak[0], _vm_peak_mb(p.pid))

    def _read_line(self, p: subprocess.Popen, deadline: float, peak: list) -> bytes:
        """The reply's header line; what was read past it is kept for ``_read_exact``."""
        buf = bytearray()
        fd = p.stdout.fileno()
        while b"\n" not in buf:
            self._wait_readable(p, deadline, peak)
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError("no answer")
            buf += chunk
            if buf.find(b"\n", 0, HEADER_MAX) < 0 and len(buf) > HEADER_MAX:
                raise ValueError("header too long")
        i = buf.index(b"\n") + 1
        self._pending = bytes(buf[i:])
        return bytes(buf[:i])

    def _read_exact(self, p: subprocess.Popen, n: int, deadline: float, peak: list) -> bytearray:
        buf = bytearray(n)
        pending, self._pending = self._pending, b""
        if len(pending) > n:
            raise ValueError("answer longer than announced")
        buf[:len(pending)] = pending
        view, got, fd = memoryview(buf), len(pending), p.stdout.fileno()
        while got < n:
            self._wait_readable(p, deadline, peak)
            k = os.readv(fd, [view[got:]])
            if k == 0:
                raise EOFError("answer cut short")
            got += k
        return buf


# ------------------------------------------------------------------ the helper process

def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _serve(memory_mb: int) -> None:
    from ..workers import OpenFiles
    from . import render_page

    _die_with_parent()
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # the protocol has fd 1 to itself: anything a library prints goes to stderr
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    files = OpenFiles()  # the document's next pages come from the same open file

    def reply(head: dict, data: bytes = b"") -> None:
        out.write(json.dumps(head, ensure_ascii=True).encode() + b"\n")
        if data:
            out.write(data)

    for line in inp:
        try:
            req = json.loads(line)
            path, n, dpi = str(req["path"]), int(req["page"]), float(req["dpi"])
        except (ValueError, KeyError, TypeError):
            return
        try:
            src = files.get(path)
            if not 1 <= n <= src.n_pages:
                raise InputError(path, f"no page {n} (the file has {src.n_pages})", "corrupt")
            if req.get("kind") in ("layer", "rulings"):
                from ..textlayer.read import read_layer, read_rulings

                if src.kind != "pdf":
                    raise InputError(path, "not a PDF: no text layer", "unsupported")
                if req["kind"] == "rulings":
                    r = np.ascontiguousarray(read_rulings(src, n, dpi), dtype=np.uint8)
                    reply({"ok": 1, "h": int(r.shape[0]), "w": int(r.shape[1]), "dpi": dpi}, r.tobytes())
                    continue
                layer = read_layer(src, n, dpi)
                meta = json.dumps(layer.meta(), ensure_ascii=True).encode()
                none = np.zeros((0, 0), np.uint8)
                g, r = (np.ascontiguousarray(a if a is not None else none, dtype=np.uint8) for a in (layer.gray, layer.rulings))
                reply({"ok": 1, "h": int(g.shape[0]), "w": int(g.shape[1]), "rh": int(r.shape[0]), "rw": int(r.shape[1]),
                       "dpi": layer.dpi, "meta": len(meta)}, g.tobytes() + r.tobytes() + meta)
                continue
            img = render_page(src, n, dpi)
            g = np.ascontiguousarray(img.gray, dtype=np.uint8)
            reply({"ok": 1, "h": int(g.shape[0]), "w": int(g.shape[1]), "dpi": img.dpi}, g.tobytes())
        except InputError as e:
            reply({"ok": 0, "category": e.category, "reason": e.reason})
        except MemoryError:
            reply({"ok": 0, "category": "page_memory", "reason": "out of memory"})
            return
        except OSError as e:
            reply({"ok": 0, "category": "missing", "reason": f"cannot read the file ({e.strerror or e})"})
        except Exception as e:  # noqa: BLE001 - a broken page object: this page fails, the helper goes on
            reply({"ok": 0, "category": "render_error", "reason": f"{type(e).__name__}: {e}"[:500]})


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
