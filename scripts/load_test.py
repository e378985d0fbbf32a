#!/usr/bin/env python3
"""Load test of the HTTP service: start ``extractor serve`` on a fresh database, fire N concurrent
uploads of distinct rendered scans over loopback, wait for every job, check none was lost, and
print the time to finish.

    .venv/bin/python scripts/load_test.py                       # 20 uploads, 2 workers
    .venv/bin/python scripts/load_test.py -n 20 --workers 2 --record   # and append the figures to BENCHMARKS.md

"None lost" means: every upload answered 202 with its own job; every job ends ``done``; the database
holds exactly N documents and N jobs, each document extracted with all its pages and its pages'
images kept, and every stored upload byte-identical to what was sent.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
KEY = "load-test-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(out: Path, n: int, pages: int, dpi: int, severity: str) -> list[Path]:
    import synth

    files = []
    for i in range(n):
        d = out / f".r{i}"
        synth.render_document(d, seed=500 + i, kind="sample", severity=severity, dpi=dpi, max_pages=pages)
        f = out / f"scan_{i:02d}.pdf"
        shutil.move(str(d / "doc.pdf"), f)
        shutil.rmtree(d)
        files.append(f)
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20, help="concurrent uploads (distinct documents)")
    ap.add_argument("--workers", type=int, default=2, help="the service's job workers")
    ap.add_argument("--pages", type=int, default=1, help="pages per document")
    ap.add_argument("--dpi", type=int, default=200, help="scan resolution (the service reads at the same)")
    ap.add_argument("--severity", default="light", choices=["clean", "light", "medium", "heavy"])
    ap.add_argument("--timeout", type=float, default=1800, help="seconds to wait for all jobs")
    ap.add_argument("--record", action="store_true", help="append the figures to BENCHMARKS.md")
    ap.add_argument("--keep", help="keep the database and logs in this folder")
    args = ap.parse_args()

    import httpx

    from extractor.store import Store

    work = Path(args.keep or tempfile.mkdtemp(prefix="extractor-load-"))
    work.mkdir(parents=True, exist_ok=True)
    files = render(work, args.n, args.pages, args.dpi, args.severity)
    db = f"sqlite:///{work / 'load.db'}"
    cfg = work / "service.yaml"
    cfg.write_text(json.dumps({"api_keys": {"load": KEY}, "pipeline": {"dpi": args.dpi}, "max_pages": 50}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "serve.log", "w")
    t_start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "extractor.cli", "serve", "--db", db, "--port", str(port),
                             "--workers", str(args.workers), "--config", str(cfg), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                            start_new_session=True)
    load_before = os.getloadavg()[0]
    try:
        while True:  # up, and every worker's models loaded enough to be alive
            if proc.poll() is not None:
                raise SystemExit("the service died:\n" + (work / "serve.log").read_text()[-3000:])
            try:
                if httpx.get(f"{base}/healthz", timeout=2).json()["workers_ready"] == args.workers:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        t_up = time.monotonic()

        answers: list = [None] * args.n
        latency: list[float] = [0.0] * args.n
        barrier = threading.Barrier(args.n)

        def send(i: int) -> None:
            data = files[i].read_bytes()
            barrier.wait()
            t0 = time.monotonic()
            try:
                answers[i] = httpx.post(f"{base}/api/jobs", headers={"X-API-Key": KEY}, timeout=120,
                                        files={"file": (files[i].name, data, "application/pdf")})
            except httpx.HTTPError as e:
                answers[i] = e
            latency[i] = time.monotonic() - t0

        threads = [threading.Thread(target=send, args=(i,)) for i in range(args.n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_accepted = time.monotonic() - t0
        bad = [(i, a) for i, a in enumerate(answers) if not (isinstance(a, httpx.Response) and a.status_code == 202)]
        if bad:
            raise SystemExit(f"{len(bad)} uploads refused or failed: {bad[:3]}")
        jobs = [a.json()["id"] for a in answers]
        assert len(set(jobs)) == args.n, "two uploads got the same job"

        states: dict[int, dict] = {}
        while time.monotonic() - t0 < args.timeout:
            states = {j: httpx.get(f"{base}/api/jobs/{j}", headers={"X-API-Key": KEY}, timeout=30).json() for j in jobs}
            if all(s["state"] in ("done", "failed") for s in states.values()):
                break
            time.sleep(1.0)
        t_done = time.monotonic() - t0
        finished = [s for s in states.values() if s["state"] == "done"]
        failed = [s for s in states.values() if s["state"] == "failed"]
        waiting = [s for s in states.values() if s["state"] not in ("done", "failed")]
        load_after = os.getloadavg()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)

    # none lost: the database as the service left it
    with Store(db) as st:
        docs = st.list_documents()
        all_jobs = st.list_jobs()
        sent = {f.read_bytes() for f in files}
        kept = {st.load_upload(d.id).data for d in docs}
        pages_ok = all(st.get_document(d.id).status == "done" and
                       all(st.page_image(d.id, p) for p in range(1, args.pages + 1)) for d in docs)
    lost = args.n - len(finished)
    ok = (not failed and not waiting and len(docs) == args.n and len(all_jobs) == args.n and kept == sent
          and pages_ok)
    pages = args.n * args.pages
    figures = {
        "uploads": args.n, "pages": pages, "workers": args.workers, "accepted_s": round(t_accepted, 2),
        "upload_latency_median_s": round(statistics.median(latency), 2), "upload_latency_max_s": round(max(latency), 2),
        "finish_s": round(t_done, 1), "pages_per_min": round(pages / t_done * 60, 1),
        "startup_s": round(t_up - t_start, 1), "done": len(finished), "failed": len(failed), "lost": lost,
        "documents_in_db": len(docs), "jobs_in_db": len(all_jobs), "uploads_intact": kept == sent,
        "load_before": round(load_before, 2), "load_after": round(load_after, 2), "ok": ok,
    }
    print(json.dumps(figures, indent=1))
    if args.record:
        record(args, figures)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def record(args: argparse.Namespace, f: dict) -> None:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cmd = f"python scripts/load_test.py -n {args.n} --workers {args.workers} --pages {args.pages} --dpi {args.dpi}"
    text = f"""
## {date.today().isoformat()}: service under load (`extractor serve`, {args.n} concurrent uploads)

Machine: {os.cpu_count()} cores ({cpu or platform.processor()}), no GPU, Python {platform.python_version()}.  
Command: `{cmd} --record`  
{args.n} distinct rendered scans ({args.severity}, {args.dpi} dpi, {args.pages} page each) uploaded at once over loopback to a
fresh service (SQLite, {args.workers} job workers, models loaded before the uploads); time from the first upload to the last
job done. Load average {f['load_before']} before, {f['load_after']} after (the machine was shared).

| uploads | pages | all accepted (202) in | upload latency median / max | all jobs done in | pages/min | done | failed | lost |
|---|---|---|---|---|---|---|---|---|
| {f['uploads']} | {f['pages']} | {f['accepted_s']} s | {f['upload_latency_median_s']} / {f['upload_latency_max_s']} s | {f['finish_s']} s | {f['pages_per_min']} | {f['done']} | {f['failed']} | {f['lost']} |

- None lost: {f['documents_in_db']} documents and {f['jobs_in_db']} jobs in the database, every stored upload
  byte-identical to the file sent: {'yes' if f['uploads_intact'] else 'NO'}; every page extracted with its image kept: {'yes' if f['ok'] else 'NO'}.
- Service start to workers ready (models loaded): {f['startup_s']} s, not counted above.
"""
    with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as fh:
        fh.write(text)
    print(f"appended to {ROOT / 'BENCHMARKS.md'}")


if __name__ == "__main__":
    sys.exit(main())
