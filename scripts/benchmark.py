"""extractor against its peers, on the same rendered scans in one run: accuracy and speed.

    python scripts/benchmark.py                      # the fixed set, every system, light/medium/heavy -> BENCHMARKS.md
    python scripts/benchmark.py --systems extractor ocr-floor --severity medium --no-record
    python scripts/benchmark.py --root DIR --systems extractor --errors 20   # score any rendered set

The fixed set: every transcript in ../shared/seeds rendered with names and numbers varied (render
seed 1000+) plus wholly synthetic documents (seed 2000+), at most 12 pages each, at each severity.
None of it is used for tuning or calibration (those use seeds 3000+).

Systems (``--systems``; default: all that can run here):
- ``extractor``: this pipeline, settings from ``--config`` (e.g. configs/gpu.yaml);
- ``ocr-floor``: the OCR models alone on the text of the page: every non-empty true cell cropped
  and recognised in width-sorted batches, nothing else, read both ways the pipeline can read (the
  full model alone; int8 first, unsure crops again) and the faster counted, page by page. Each
  page runs on one thread, and the floor's time per page is that divided by the pipeline's page
  workers (ideal spreading over the cores, which no real run beats); extractor's time per page is
  reported as a multiple of it;
- the peers in scripts/peers (img2table + RapidOCR, img2table + Tesseract, SLANet + RapidOCR,
  RapidOCR whole page grouped into rows), installed by scripts/peers/setup.sh; they get the same
  page images, rendered from the same PDFs at the same DPI.

Each system runs in its own process (so peak memory is its own), one after the other. One table
per severity: tables found F1 (IoU >= 0.5), cell grid positions right, TEDS, cell text exactly
right (NFKC, whitespace ignored), numeric cells right, empty cells kept empty, KPI records F1
(extractor only: no peer has KPI records), confidence ECE and share of wrong cells below 0.9
(systems that give confidences), pages/min, seconds per page (median, worst), peak memory.
The tables are appended to BENCHMARKS.md with the date, the machine and the command.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from extractor.evaluate import Score  # noqa: E402
from peers.bench import score_and_report  # noqa: E402

SEEDS_DIR = ROOT.parent / "shared" / "seeds"
MAX_PAGES = 12


def render_set(out: Path, severity: str, n_synthetic: int, dpi: int) -> list[Path]:
    import synth

    docs = []
    sources = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.exists() else []
    jobs = [(f"seed_{s.stem[:3]}", 1000 + i, str(s)) for i, s in enumerate(sources)]
    jobs += [(f"synthetic_{i:02d}", 2000 + i, None) for i in range(n_synthetic)]
    for name, seed, src in jobs:
        d = out / severity / name
        if not (d / "truth.json").exists():
            synth.render_document(d, seed=seed, source=src, severity=severity, dpi=dpi, max_pages=MAX_PAGES)
        docs.append(d)
    return docs


def find_docs(root: Path) -> list[Path]:
    if (root / "truth.json").exists():  # one document
        return [root]
    return sorted(p.parent for p in root.rglob("truth.json") if (p.parent / "doc.pdf").exists())


def peak_rss_mb() -> float:
    """This process's peak plus the largest peak among its finished children (a peer's worker,
    extractor's page workers: these run side by side, so the figure is a lower bound for two)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024.0


def _finish(total: Score, page_secs: list[float], wall: float, load_s: float) -> dict:
    m = total.summary()
    m.update(pages=len(page_secs), pages_per_min=60 * len(page_secs) / max(wall, 1e-9),
             sec_median=statistics.median(page_secs) if page_secs else 0.0,
             sec_worst=max(page_secs) if page_secs else 0.0, peak_mb=peak_rss_mb(), load_s=load_s)
    return m


def run_extractor(docs: list[Path], config: Path | None, errors: int = 0) -> dict:
    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    t0 = time.perf_counter()
    pipe = Pipeline(Settings.load(config))
    pipe.warm_up()  # page workers and the KPI classifier load here, as the peers' models do
    load_s = time.perf_counter() - t0
    total = Score()
    page_secs: list[float] = []
    truths = [json.loads((d / "truth.json").read_text(encoding="utf-8")) for d in docs]
    dpis = {t.get("dpi", 200) for t in truths}
    # the files one after another as an archive runs them: the page workers go on to the next
    # file's pages while one file's document-level stages run (Pipeline.run_many)
    t0 = time.perf_counter()
    if len(dpis) == 1:
        out = list(pipe.run_many([d / "doc.pdf" for d in docs], dpi=dpis.pop()))
    else:
        out = [pipe.run(d / "doc.pdf", dpi=t.get("dpi", 200)) for d, t in zip(docs, truths)]
    wall = time.perf_counter() - t0
    for d, doc, truth in zip(docs, out, truths):
        page_secs += [p.seconds or 0.0 for p in doc.pages]
        total.add(score_and_report("extractor", d, doc, truth, errors,
                                   "numeric {numeric:.3f}, prose {prose:.3f}, KPI F1 {kpi_f1:.3f}"))
    pipe.close()  # page workers exit, so their peak memory is counted
    m = _finish(total, page_secs, wall, load_s)
    m["workers"] = pipe.n_workers
    return m


def run_floor(docs: list[Path], config: Path | None) -> dict:
    """The OCR models alone on the text of each page: every non-empty true cell, and every line of
    the true paragraphs (a paragraph's box cut into lines of the page's typical cell height),
    cropped from the page image and recognised in one width-sorted batched call per page: the
    recognition work no pipeline can skip. Finding the text (layout, grid, detection) is not in it.
    Each page is read both ways the pipeline can read (the full model alone, and int8 first with
    the unsure crops read again; ``Recognizer``), on one thread as a page worker has, and the faster
    counts. The time per page (``sec_mean``, pages/min) is that divided by the number of page
    workers: the pages spread over the cores without any loss."""
    from extractor import ingest
    from extractor.config import Settings
    from extractor.ocr.engine import Recognizer
    from extractor.pipeline import worker_count

    s = Settings.load(config)
    workers = worker_count(s)
    threads = s.threads or (max(1, (os.cpu_count() or 1) // workers) if workers > 1 else 0)  # as Pipeline shares them
    t0 = time.perf_counter()
    recs = {"fp32": Recognizer(s.device, threads, batch_size=s.rec_batch_size, precision="fp32")}
    if s.rec_precision != "fp32":
        mixed = Recognizer(s.device, threads, batch_size=s.rec_batch_size, precision=s.rec_precision)
        if mixed.sess_int8 is not None:
            recs["int8"] = mixed
    load_s = time.perf_counter() - t0
    page_secs: list[float] = []
    by: dict[str, float] = {k: 0.0 for k in recs}
    for d in docs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        src = ingest.open_source(d / "doc.pdf")
        try:
            for tp in truth["pages"]:
                gray = ingest.render_page(src, tp["page"], truth.get("dpi", 200)).gray
                h, w = gray.shape
                crops = []
                boxes = [c["bbox"] for t in tp["tables"] for c in t["cells"] if c["text"].strip()]
                heights = sorted(b[3] - b[1] for b in boxes)
                line_h = heights[len(heights) // 4] if heights else 0.022 * h
                for p in tp.get("paragraphs", []):
                    x0, y0, x1, y1 = p["bbox"]
                    n = max(1, int(round((y1 - y0) / max(1.0, 0.8 * line_h))))
                    boxes += [[x0, y0 + k * (y1 - y0) / n, x1, y0 + (k + 1) * (y1 - y0) / n] for k in range(n)]
                for b in boxes:
                    x0, y0, x1, y1 = (int(round(v)) for v in b)
                    crop = gray[max(0, y0 + 2):min(h, y1 - 1), max(0, x0 + 2):min(w, x1 - 1)]
                    if crop.size:
                        crops.append(crop)
                secs = {}
                for k, rec in recs.items():
                    t0 = time.perf_counter()
                    if crops:
                        rec(crops)
                    secs[k] = time.perf_counter() - t0
                    by[k] += secs[k]
                page_secs.append(min(secs.values()))
        finally:
            src.close()
    wall = sum(page_secs) / workers  # the pages spread over the workers without loss
    m = {"pages": len(page_secs), "pages_per_min": 60 * len(page_secs) / max(wall, 1e-9),
         "sec_median": statistics.median(page_secs) if page_secs else 0.0,
         "sec_worst": max(page_secs) if page_secs else 0.0, "sec_mean": wall / max(1, len(page_secs)),
         "peak_mb": peak_rss_mb(), "load_s": load_s, "workers": workers,
         "pages_per_min_by": {k: round(60 * len(page_secs) * workers / max(v, 1e-9), 1) for k, v in by.items()}}
    print(f"  ocr-floor: pages/min read each way alone {m['pages_per_min_by']}, the faster per page {m['pages_per_min']:.1f}",
          flush=True)
    return m


def run_peer(name: str, docs: list[Path], errors: int = 0) -> dict:
    import peers
    from peers.bench import run_peer as score_peer

    t0 = time.perf_counter()
    p = peers.load(name)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        m = score_peer(p, docs, None, False, errors)
    finally:
        p.close()
    wall = time.perf_counter() - t0  # includes rendering the page images: pages/min uses the page seconds
    secs_total = m.get("sec_mean", 0.0) * m.get("pages", 0)
    m.update(pages_per_min=60 * m["pages"] / max(secs_total, 1e-9), peak_mb=peak_rss_mb(), load_s=load_s,
             kpi_f1=None, kpi_ece=None, prose=None, continuation=None, wall_s=wall)
    return m


def run_system(system: str, docs: list[Path], config: Path | None, errors: int) -> dict:
    if system == "extractor":
        return run_extractor(docs, config, errors)
    if system == "ocr-floor":
        return run_floor(docs, config)
    return run_peer(system, docs, errors)


def in_subprocess(system: str, docs: list[Path], config: Path | None, errors: int) -> dict:
    """Run one system in a fresh process: its own models, its own peak memory."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "job.json"
        out = Path(tmp) / "result.json"
        spec.write_text(json.dumps({"system": system, "docs": [str(d) for d in docs],
                                    "config": str(config) if config else None, "errors": errors}), encoding="utf-8")
        r = subprocess.run([sys.executable, __file__, "--worker", str(spec), "--worker-out", str(out)])
        if r.returncode != 0 or not out.exists():
            print(f"  {system} failed (exit {r.returncode})", flush=True)
            return {"failed": True}
        return json.loads(out.read_text(encoding="utf-8"))


ROWS = [("tables found F1", "tables_f1", "{:.3f}"), ("cell grid positions right", "grid", "{:.3f}"),
        ("TEDS", "teds", "{:.3f}"),
        ("cell text exactly right", "text", "{:.3f}"), ("numeric cells right", "numeric", "{:.3f}"),
        ("empty cells kept empty", "empty", "{:.3f}"), ("cross-page links found", "continuation", "{:.3f}"),
        ("prose character accuracy", "prose", "{:.3f}"), ("KPI records F1", "kpi_f1", "{:.3f}"),
        ("confidence ECE", "ece", "{:.3f}"), ("wrong cells scored below 0.9", "wrong_below_0.9", "{:.3f}"),
        ("KPI record confidence ECE", "kpi_ece", "{:.3f}"),
        ("pages/min", "pages_per_min", "{:.1f}"), ("s/page median / worst", "sec", None),
        ("time per page / OCR floor", "floor_x", "{:.2f}×"),
        ("peak memory (MB)", "peak_mb", "{:.0f}"), ("model load (s)", "load_s", "{:.1f}")]
NOT_MEASURED = "—"


def table_md(results: dict[str, dict]) -> str:
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for label, key, fmt in ROWS:
        vals = []
        for n in names:
            r = results[n]
            if r.get("failed"):
                vals.append("failed")
                continue
            if key == "sec":
                vals.append(f"{r['sec_median']:.2f} / {r['sec_worst']:.2f}" if "sec_median" in r else NOT_MEASURED)
                continue
            v = r.get(key)
            vals.append(NOT_MEASURED if v is None or (isinstance(v, float) and v != v) else fmt.format(v))
        lines.append(f"| {label} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime as ort

    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, onnxruntime {ort.__version__} {ort.get_device()}"


def default_systems() -> list[str]:
    import peers

    out = ["extractor", "ocr-floor"]
    for name, why in peers.available().items():
        if why is None:
            out.append(name)
        else:
            print(f"peer {name} left out: {why}", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--severity", nargs="+", default=["light", "medium", "heavy"])
    ap.add_argument("--synthetic", type=int, default=2, help="wholly synthetic documents per severity")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "bench12", help="where rendered scans are kept")
    ap.add_argument("--root", type=Path, help="score an existing set instead of the fixed one")
    ap.add_argument("--systems", nargs="+", help="extractor, ocr-floor and/or peer names (default: all available)")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong cells per document")
    ap.add_argument("--config", type=Path, help="extractor settings YAML (e.g. configs/gpu.yaml)")
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.worker:  # one system in this process
        job = json.loads(a.worker.read_text(encoding="utf-8"))
        m = run_system(job["system"], [Path(d) for d in job["docs"]], Path(job["config"]) if job["config"] else None,
                       job["errors"])
        a.worker_out.write_text(json.dumps(m), encoding="utf-8")
        return 0

    systems = a.systems or default_systems()
    sets = ({a.root.name: find_docs(a.root)} if a.root else
            {sev: render_set(a.data, sev, a.synthetic, a.dpi) for sev in a.severity})
    tables = []
    for name, docs in sets.items():
        print(f"set {name}: {len(docs)} documents; systems: {', '.join(systems)}", flush=True)
        results = {}
        for system in systems:
            results[system] = in_subprocess(system, docs, a.config, a.errors)
        floor = results.get("ocr-floor", {}).get("sec_mean")
        for system, r in results.items():
            if floor and system != "ocr-floor" and r.get("pages"):
                r["floor_x"] = (60.0 / r["pages_per_min"]) / floor
        md = table_md(results)
        print(f"\n{name}\n{md}\n", flush=True)
        tables.append((name, results, md))
    if not a.no_record:
        cmd = "python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
        n_pages = {name: next((r["pages"] for r in res.values() if r.get("pages")), 0) for name, res, _ in tables}
        entry = (f"\n## {date.today().isoformat()}: extractor and peers, same scans, one run\n\n"
                 f"Machine: {machine()}.  \nCommand: `{cmd.strip()}`\n")
        for name, _, md in tables:
            entry += f"\n### {name} ({n_pages[name]} pages)\n\n{md}\n"
        bm = ROOT / "BENCHMARKS.md"
        if not bm.exists():
            bm.write_text("# Benchmarks\n\nEvery run of `scripts/benchmark.py` appends its figures here.\n", encoding="utf-8")
        with open(bm, "a", encoding="utf-8") as f:
            f.write(entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
