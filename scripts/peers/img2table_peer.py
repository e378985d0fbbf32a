"""Peers "img2table-rapidocr" and "img2table-tesseract": img2table 2.0.0 run in its own
environment (.venv-peers, see setup.sh) through ``img2table_worker.py``, one long-lived worker
process per peer object (the OCR engine is loaded once in it). Page images go over as PNG files
in a private temporary folder, tables come back as JSON and are turned into extractor Tables here.

The worker's Python: $PEERS_PYTHON, else <repository>/.venv-peers/bin/python.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

from extractor.model import Page

from .base import Peer, PeerUnavailable, fill_grid, make_cell, make_table

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().parent / "img2table_worker.py"


def peers_python() -> Path:
    env = os.environ.get("PEERS_PYTHON")
    return Path(env) if env else ROOT / ".venv-peers" / "bin" / "python"


def check_env(ocr: str) -> Optional[str]:
    """None when the peer can run here, else why not (cheap: no model is loaded)."""
    py = peers_python()
    if not py.exists():
        return f"{py} not found: run scripts/peers/setup.sh (img2table needs its own venv)"
    probe = "import img2table, cv2" + (", rapidocr, onnxruntime" if ocr == "rapidocr" else "")
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return f"{py} cannot import img2table ({r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode})"
    if ocr == "tesseract":
        tess = shutil.which("tesseract")
        if not tess:
            return "tesseract not on PATH: apt-get install tesseract-ocr tesseract-ocr-chi-sim"
        langs = subprocess.run([tess, "--list-langs"], capture_output=True, text=True).stdout.split()
        if "chi_sim" not in langs:
            return "tesseract has no chi_sim: apt-get install tesseract-ocr-chi-sim"
    return None


class Img2TablePeer(Peer):
    table_source = "lines"

    def __init__(self, ocr: str = "rapidocr", threads: int = 0, timeout: float = 600.0,
                 implicit_rows: bool = True, implicit_columns: bool = False):
        if ocr not in ("rapidocr", "tesseract"):
            raise ValueError(ocr)
        why = check_env(ocr)
        if why:
            raise PeerUnavailable(why)
        self.ocr = ocr
        self.name = f"img2table-{ocr}"
        self.description = f"img2table 2.0.0 (ruled tables, detect_rotation) with {'RapidOCR 3.10 ch' if ocr == 'rapidocr' else 'Tesseract chi_sim'}"
        self.timeout = timeout
        self._tmp = tempfile.mkdtemp(prefix="img2table-peer-")
        self._n = 0
        cmd = [str(peers_python()), str(WORKER), "--ocr", ocr]
        threads = threads or max(1, min(os.cpu_count() or 1, 4))
        cmd += ["--threads", str(threads)] + ([] if implicit_rows else ["--no-implicit-rows"])
        cmd += ["--implicit-columns"] if implicit_columns else []
        env = dict(os.environ)
        # tesseract's OpenMP: with more than one thread a busy machine made a page take minutes
        # (spinning threads); one thread read a page in ~1-4 s
        env.setdefault("OMP_THREAD_LIMIT", "1")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", env=env, bufsize=1)
        self._stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        hello = self._readline()
        if not hello.get("ready"):
            self.close()
            raise PeerUnavailable(f"img2table worker did not start: {hello.get('error') or self._tail()}")

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-50]

    def _tail(self) -> str:
        return "".join(self._stderr[-10:]).strip()

    def _readline(self) -> dict:
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(self.timeout)
        if not box:
            self.close()
            raise RuntimeError(f"img2table worker gave no answer in {self.timeout:.0f} s")
        if not box[0]:
            raise RuntimeError(f"img2table worker exited (rc {self.proc.poll()}): {self._tail()}")
        return json.loads(box[0])

    def _request(self, paths: list[str]) -> list[dict]:
        if self.proc.poll() is not None:
            raise RuntimeError(f"img2table worker is not running (rc {self.proc.returncode}): {self._tail()}")
        self._n += 1
        self.proc.stdin.write(json.dumps({"id": self._n, "images": paths}) + "\n")
        self.proc.stdin.flush()
        ans = self._readline()
        if "error" in ans:
            raise RuntimeError(f"img2table worker: {ans['error']}\n{ans.get('trace', '')}")
        return ans["pages"]

    def _page(self, pj: dict, page_no: int, seconds: float) -> Page:
        tables = []
        for tj in pj["tables"]:
            cells = [make_cell(c["row"], c["col"], c["rowspan"], c["colspan"], c["bbox"], (c["text"] or "").strip(),
                               c["scores"], source="lines") for c in tj["cells"]]
            if not cells:
                continue
            n_rows = max(c.row + c.rowspan for c in cells)
            n_cols = max(c.col + c.colspan for c in cells)
            cells = fill_grid(cells, n_rows, n_cols)
            tables.append(make_table(page_no, len(tables), tj["bbox"], cells, "lines", title=tj.get("title")))
        return Page(page=page_no, width=pj["width"], height=pj["height"], tables=tables, seconds=seconds)

    def extract_page(self, image: np.ndarray, page_no: int) -> Page:
        import cv2

        t0 = time.perf_counter()
        path = os.path.join(self._tmp, f"page-{page_no}.png")
        cv2.imwrite(path, image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        try:
            pj = self._request([path])[0]
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        return self._page(pj, page_no, time.perf_counter() - t0)

    def close(self) -> None:
        p = getattr(self, "proc", None)
        if p is not None and p.poll() is None:
            try:
                p.stdin.close()
                p.wait(timeout=10)
            except Exception:
                p.kill()
                p.wait()
        shutil.rmtree(getattr(self, "_tmp", ""), ignore_errors=True)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
