"""Whole-archive benchmark of `extractor batch`: throughput with 1 and 2 local workers and on Ray,
peak memory per worker, and a kill-and-resume run checked for exactly-once.

    python scripts/archive_bench.py                 # render (or reuse) the archive, run everything -> BENCHMARKS.md
    python scripts/archive_bench.py --runs local1 resume --no-record
    python scripts/archive_bench.py --pages 2 --docs 12 --no-record      # a quicker, smaller archive

The archive (data/archive_bench/, rendered once): 26 distinct documents (the demo-sample kind with a
budget table and KPI tables, wholly synthetic disclosures, and the transcripts in ../shared/seeds,
names and numbers varied; medium degradation, 200 dpi, at most --pages pages each), one duplicate
(a copy under another name in another folder) and three deliberately bad files (a truncated PDF, an
encrypted PDF, a text file named .pdf): 30 files.

Runs (each on a fresh database, one after the other, every command exactly as a user would type it):
- ``local1`` / ``local2``: ``extractor batch ARCHIVE --db … --workers 1|2``;
- ``ray``: a one-machine Ray cluster (``ray start --head --num-cpus 2``) and
  ``extractor batch ARCHIVE --db … --engine ray --address auto``; its documents are compared with
  the ``local2`` run's (everything but page timings and the stored file name);
- ``resume``: ``--workers 2``, SIGKILLed once ~40% of the pages are kept, one document renamed, the
  same command again: every good document must end done exactly once, no page read twice, the
  killed run's pages kept as they were, the bad files and the duplicate reported.

pages/min is over the whole command (discovery, hashing, worker start-up with model loading,
document-level stages, saving) and, as "steady", from the first page kept to the last. Peak memory
is each worker process's peak RSS (the largest worker is shown) and the batch process's own.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SEEDS_DIR = ROOT.parent / "shared" / "seeds"
N_GOOD = 26
BAD = ("bad/truncated.pdf", "bad/encrypted.pdf", "bad/minutes.pdf")
DUPLICATE = ("incoming/2024/copy_of_doc_003.pdf", "docs/doc_003.pdf")
RENAMED = ("docs/doc_007.pdf", "docs/doc_007_renamed.pdf")


def _env() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", RAY_USAGE_STATS_ENABLED="0")


def render_archive(root: Path, n_good: int, pages: int, severity: str, dpi: int) -> Path:
    """The archive under root/archive (reused when its manifest matches)."""
    import pikepdf
    import synth

    arch = root / "archive"
    key = {"n_good": n_good, "pages": pages, "severity": severity, "dpi": dpi}
    stamp = root / "archive.json"
    if stamp.exists() and json.loads(stamp.read_text()) == key and (arch / DUPLICATE[0]).exists():
        if (arch / RENAMED[1]).exists():  # left renamed by an interrupted run
            os.rename(arch / RENAMED[1], arch / RENAMED[0])
        return arch
    shutil.rmtree(arch, ignore_errors=True)
    seeds = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.exists() else []
    for i in range(n_good):
        tmp = root / "render" / f"doc_{i:03d}"
        kind = i % 3
        if kind == 0:
            synth.render_document(tmp, seed=5000 + i, kind="sample", severity=severity, dpi=dpi, max_pages=pages)
        elif kind == 1 or not seeds:
            synth.render_document(tmp, seed=5000 + i, severity=severity, dpi=dpi, max_pages=pages)
        else:
            synth.render_document(tmp, seed=5000 + i, source=str(seeds[i % len(seeds)]), severity=severity, dpi=dpi,
                                  max_pages=pages)
        (arch / "docs").mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "doc.pdf", arch / "docs" / f"doc_{i:03d}.pdf")
    shutil.rmtree(root / "render", ignore_errors=True)
    (arch / DUPLICATE[0]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(arch / DUPLICATE[1], arch / DUPLICATE[0])
    (arch / "bad").mkdir(exist_ok=True)
    data = (arch / "docs/doc_001.pdf").read_bytes()
    (arch / BAD[0]).write_bytes(data[: len(data) // 3])
    with pikepdf.open(arch / "docs/doc_002.pdf") as pdf:
        pdf.save(arch / BAD[1], encryption=pikepdf.Encryption(user="secret", owner="owner"))
    (arch / BAD[2]).write_text("会议纪要 (minutes of a meeting): a text file with a .pdf name\n", encoding="utf-8")
    stamp.write_text(json.dumps(key))
    return arch


def batch(arch: Path, db: Path, *extra: str, out: Path) -> tuple[dict, float, str]:
    summary = out / f"{db.stem}.summary.json"
    cmd = [sys.executable, "-m", "extractor.cli", "batch", str(arch), "--db", str(db), "--quiet", "--no-report",
           "--summary-json", str(summary), *extra]
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return json.loads(summary.read_text()), dt, r.stdout


def steady_rate(db: Path, run_id: int) -> float:
    con = sqlite3.connect(db)
    ts = [datetime.fromisoformat(t) for (t,) in con.execute(
        "select finished_at from batch_pages where run_id = ? order by finished_at", (run_id,))]
    con.close()
    if len(ts) < 2:
        return float("nan")
    return 60.0 * (len(ts) - 1) / (ts[-1] - ts[0]).total_seconds()


def figures(name: str, command: str, s: dict, wall: float, db: Path) -> dict:
    mem = s["worker_peak_mb"]
    return {"run": name, "command": command, "pages": s["pages_read"], "wall_s": wall,
            "ppm": 60.0 * s["pages_read"] / wall, "steady_ppm": steady_rate(db, s["run_id"]),
            "workers": len(mem), "worker_mb": max(mem.values()) if mem else float("nan"),
            "driver_mb": s["driver_peak_mb"], "counts": s["counts"]}


def comparable(doc) -> dict:
    d = doc.model_dump(mode="json", exclude={"source"})
    for p in d["pages"]:
        p["seconds"] = None
    return d


def compare(db_a: Path, db_b: Path) -> tuple[int, int]:
    from extractor.store import Store

    same = n = 0
    with Store(str(db_a)) as a, Store(str(db_b)) as b:
        other = {d.content_hash: d for d in b.list_documents()}
        for d in a.list_documents():
            n += 1
            o = other.get(d.content_hash)
            if o is not None and o.status == d.status and \
                    comparable(a.load_document(d.id)) == comparable(b.load_document(o.id)):
                same += 1
    return same, n


def ray_head(log: Path) -> subprocess.Popen:
    ray_bin = Path(sys.executable).with_name("ray")
    f = open(log, "w")
    p = subprocess.Popen([str(ray_bin), "start", "--head", "--block", "--num-cpus=2", "--include-dashboard=false",
                          "--disable-usage-stats"], stdout=f, stderr=subprocess.STDOUT, env=_env(),
                         start_new_session=True)
    t0 = time.monotonic()
    while "Ray runtime started" not in log.read_text():
        if p.poll() is not None or time.monotonic() - t0 > 120:
            raise SystemExit(f"ray start failed:\n{log.read_text()}")
        time.sleep(0.2)
    return p


def stop_ray(p: subprocess.Popen) -> None:
    os.killpg(p.pid, signal.SIGINT)  # our own process group
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)


def resume_run(arch: Path, db: Path, out: Path, total_pages: int) -> dict:
    """Kill at ~40% of the pages, rename a document, run again; check exactly-once."""
    from extractor.store import Store, sha256_file

    cmd = [sys.executable, "-m", "extractor.cli", "batch", str(arch), "--db", str(db), "--quiet", "--no-report",
           "--workers", "2"]
    p = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    target = max(2, int(0.4 * total_pages))
    kept = 0
    while p.poll() is None:
        try:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            kept = con.execute("select count(*) from batch_pages").fetchone()[0]
            con.close()
        except sqlite3.Error:
            kept = 0
        if kept >= target:
            break
        time.sleep(0.2)
    if p.poll() is not None:
        raise SystemExit("the batch ended before it could be killed")
    os.killpg(p.pid, signal.SIGKILL)  # the batch and its workers, as a crash or the OOM killer would
    p.wait()
    con = sqlite3.connect(db)
    killed = con.execute("select document_id, page, run_id, finished_at from batch_pages order by id").fetchall()
    con.close()
    good = sorted((arch / "docs").glob("*.pdf"))
    hashes = {sha256_file(g) for g in good}
    os.rename(arch / RENAMED[0], arch / RENAMED[1])
    try:
        s, wall, stdout = batch(arch, db, "--workers", "2", out=out)
    finally:
        os.rename(arch / RENAMED[1], arch / RENAMED[0])
    problems = []
    with Store(str(db)) as st:
        docs = st.list_documents()
        by_hash: dict[str, list] = {}
        for d in docs:
            by_hash.setdefault(d.content_hash, []).append(d)
        for h in hashes:
            ds = by_hash.get(h, [])
            if len(ds) != 1 or ds[0].status not in ("done", "partial"):
                problems.append(f"document {h[:12]}: {[(d.status) for d in ds]}")
        con = sqlite3.connect(db)
        rows = con.execute("select document_id, page, run_id, finished_at from batch_pages order by id").fetchall()
        con.close()
        n_pages = sum(d.n_pages for d in docs if d.content_hash in hashes)
        if len(rows) != n_pages or len({(r[0], r[1]) for r in rows}) != len(rows):
            problems.append(f"{len(rows)} page results for {n_pages} pages")
        if [r for r in rows if r[2] == 1] != killed:
            problems.append("pages kept by the killed run were changed")
    failed = dict(s["failed"])
    for rel in BAD:
        if str(arch / rel) not in failed:
            problems.append(f"{rel} not reported")
    dup_ok = any(str(arch / DUPLICATE[0]) in d["duplicates"] for d in s["documents"])
    renamed_ok = any(d["path"] == str(arch / RENAMED[1]) and d["source"] == str(arch / RENAMED[0])
                     for d in s["documents"])
    if not dup_ok:
        problems.append("duplicate not reported")
    if not renamed_ok:
        problems.append("renamed document not matched to its first name")
    return {"killed_after": len(killed), "resumed_pages": s["pages_read"], "total_pages": n_pages,
            "documents": len(hashes), "failed": failed, "problems": problems, "summary": s, "wall": wall,
            "stdout": stdout}


def machine() -> str:
    from benchmark import machine as described  # the same line as the benchmark's (cores, CPU, onnxruntime device)

    return described()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(ROOT / "data" / "archive_bench"))
    ap.add_argument("--docs", type=int, default=N_GOOD, help="distinct good documents (default 26: 30 files in all)")
    ap.add_argument("--pages", type=int, default=4, help="at most this many pages per document")
    ap.add_argument("--severity", default="medium")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--runs", nargs="+", default=["local1", "local2", "ray", "resume"],
                    choices=["local1", "local2", "ray", "resume"])
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    a = ap.parse_args(argv)
    root = Path(a.root)
    root.mkdir(parents=True, exist_ok=True)
    arch = render_archive(root, a.docs, a.pages, a.severity, a.dpi)
    n_files = sum(1 for p in arch.rglob("*") if p.is_file())
    print(f"archive: {arch} ({n_files} files)", flush=True)
    out = root / "runs"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    results, notes = [], []
    load0 = os.getloadavg()
    for run in a.runs:
        db = out / f"{run}.sqlite"
        if run in ("local1", "local2"):
            w = run[-1]
            s, wall, _ = batch(arch, db, "--workers", w, out=out)
            results.append(figures(f"local, {w} worker{'s' if w != '1' else ''}",
                                   f"extractor batch ARCHIVE --db {run}.sqlite --workers {w}", s, wall, db))
        elif run == "ray":
            head = ray_head(out / "ray_head.log")
            try:
                s, wall, _ = batch(arch, db, "--engine", "ray", "--address", "auto", out=out)
            finally:
                stop_ray(head)
            results.append(figures("Ray, 2 actors (1 CPU each)",
                                    "ray start --head --num-cpus 2; extractor batch ARCHIVE --db ray.sqlite "
                                    "--engine ray --address auto", s, wall, db))
            ref = out / "local2.sqlite"
            if ref.exists():
                same, n = compare(ref, db)
                notes.append(f"Ray vs local (2 workers): {same} of {n} documents identical "
                             "(every field but page timings and the stored file name)")
        else:
            total = sum(1 for _ in (arch / "docs").glob("*.pdf")) * a.pages
            r = resume_run(arch, db, out, total)
            ok = "exactly once: yes" if not r["problems"] else "PROBLEMS: " + "; ".join(r["problems"])
            notes.append(f"Kill and resume (2 workers): SIGKILL after {r['killed_after']} of {r['total_pages']} pages "
                         f"kept, {RENAMED[0]} renamed, the same command again read the other {r['resumed_pages']} "
                         f"pages in {r['wall']:.0f} s; {r['documents']} good documents, {ok}; "
                         f"{len(r['failed'])} bad files reported: "
                         + "; ".join(f"{Path(k).name}: {v}" for k, v in sorted(r["failed"].items())))
            print(r["stdout"])
    load1 = os.getloadavg()
    head = "| run | pages | wall s | pages/min | pages/min (steady) | workers | peak MB per worker | batch process MB |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['run']} | {r['pages']} | {r['wall_s']:.0f} | {r['ppm']:.1f} | {r['steady_ppm']:.1f} | "
                     f"{r['workers']} | {r['worker_mb']:.0f} | {r['driver_mb']:.0f} |")
    table = "\n".join(lines)
    print("\n" + table + "\n\n" + "\n".join(notes) + f"\n\nload average before {load0[0]:.2f}, after {load1[0]:.2f}")
    if not a.no_record:
        cmd = "python scripts/archive_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
        counts = results[0]["counts"] if results else {}
        entry = (f"\n## {date.today().isoformat()}: whole archive (`extractor batch`)\n\n"
                 f"Machine: {machine()}.  \nCommand: `{cmd.strip()}`  \n"
                 f"Archive: {n_files} files: {a.docs} distinct documents ({a.severity}, {a.dpi} dpi, at most "
                 f"{a.pages} pages each; {results[0]['pages'] if results else '?'} pages), 1 duplicate, "
                 f"{len(BAD)} bad files"
                 + (f"; outcome: {counts.get('done', 0)} done, {counts.get('partial', 0)} with failed pages, "
                    f"{counts.get('failed', 0)} failed" if counts else "") + ".  \n"
                 f"Each command as typed (fresh database); pages/min over the whole command, start-up and model "
                 f"loading included, and steady (first page kept to last). Load average {load0[0]:.2f} before, "
                 f"{load1[0]:.2f} after.\n\n{table}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
        with open(ROOT / "BENCHMARKS.md", "a", encoding="utf-8") as f:
            f.write(entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
