"""Accuracy and speed of extractor on rendered scans it has never seen, in one command.

    python scripts/benchmark.py                     # render (or reuse) the fixed set, run, print, record
    python scripts/benchmark.py --severity medium --synthetic 4 --no-record
    python scripts/benchmark.py --root DIR          # score an existing set of DIR/<name>/{doc.pdf,truth.json}

The fixed set: every transcript in ../shared/seeds rendered with names and numbers varied
(render seed 1000+), plus wholly synthetic documents, at each severity asked for. Figures are
pooled over all pages: tables found F1 (IoU >= 0.5), cell grid positions right, cell text exactly
right (NFKC, whitespace ignored), numeric cells right, empty cells kept empty, cross-page links
found, confidence AUROC / ECE, pages per minute, seconds per page (median, worst), peak memory.
It appends the table to BENCHMARKS.md with the date, the machine and the command.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from extractor.evaluate import Score, score_document  # noqa: E402
from extractor.pipeline import Pipeline  # noqa: E402

SEEDS_DIR = ROOT.parent / "shared" / "seeds"


def render_set(out: Path, severity: str, n_synthetic: int, dpi: int) -> list[Path]:
    import synth

    docs = []
    sources = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.exists() else []
    jobs = [(f"seed_{s.stem[:3]}", 1000 + i, str(s)) for i, s in enumerate(sources)]
    jobs += [(f"synthetic_{i:02d}", 2000 + i, None) for i in range(n_synthetic)]
    for name, seed, src in jobs:
        d = out / severity / name
        if not (d / "truth.json").exists():
            synth.render_document(d, seed=seed, source=src, severity=severity, dpi=dpi)
        docs.append(d)
    return docs


def find_docs(root: Path) -> list[Path]:
    if (root / "truth.json").exists():  # one document
        return [root]
    return sorted(p.parent for p in root.rglob("truth.json") if (p.parent / "doc.pdf").exists())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_set(pipe: Pipeline, docs: list[Path], errors: int = 0) -> dict:
    total = Score()
    page_secs: list[float] = []
    wall = 0.0
    for d in docs:
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        doc = pipe.run(d / "doc.pdf", dpi=truth.get("dpi", 200))
        wall += time.perf_counter() - t0
        page_secs += [p.seconds or 0.0 for p in doc.pages]
        s = score_document(doc, truth)
        for e in s.errors[:errors]:
            print(f"    {d.name}: wrong p%d r%d c%d truth=%r got=%r" % e)
        total.add(s)
        m = s.summary()
        print(f"  {d.name}: {len(doc.pages)} pages, tables F1 {m['tables_f1']:.3f}, grid {m['grid']:.3f}, "
              f"text {m['text']:.3f}, numeric {m['numeric']:.3f}, prose {m['prose']:.3f}, KPI F1 {m['kpi_f1']:.3f}", flush=True)
    m = total.summary()
    m.update(pages=len(page_secs), pages_per_min=60 * len(page_secs) / max(wall, 1e-9),
             sec_median=statistics.median(page_secs) if page_secs else 0.0,
             sec_worst=max(page_secs) if page_secs else 0.0, peak_mb=peak_rss_mb())
    return m


ROWS = [("tables found F1", "tables_f1", "{:.3f}"), ("cell grid positions right", "grid", "{:.3f}"),
        ("cell text exactly right", "text", "{:.3f}"), ("numeric cells right", "numeric", "{:.3f}"),
        ("empty cells kept empty", "empty", "{:.3f}"), ("cross-page links found", "continuation", "{:.3f}"), ("false cross-page links", "false_links", "{}"),
        ("prose character accuracy", "prose", "{:.3f}"), ("KPI records F1", "kpi_f1", "{:.3f}"),
        ("confidence AUROC (right vs wrong cells)", "auroc", "{:.3f}"), ("confidence ECE", "ece", "{:.3f}"),
        ("pages", "pages", "{}"), ("tables / cells (truth)", None, None), ("pages/min", "pages_per_min", "{:.1f}"),
        ("s/page median / worst", None, None), ("peak memory (MB, process)", "peak_mb", "{:.0f}")]


def table_md(results: dict[str, dict]) -> str:
    sev = list(results)
    lines = ["| metric | " + " | ".join(sev) + " |", "|---|" + "---|" * len(sev)]
    for label, key, fmt in ROWS:
        if key is None and label.startswith("tables /"):
            vals = [f"{results[s]['n_tables']} / {results[s]['n_cells']}" for s in sev]
        elif key is None:
            vals = [f"{results[s]['sec_median']:.2f} / {results[s]['sec_worst']:.2f}" for s in sev]
        else:
            vals = [fmt.format(results[s][key]) for s in sev]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--severity", nargs="+", default=["light", "medium", "heavy"])
    ap.add_argument("--synthetic", type=int, default=3, help="wholly synthetic documents per severity")
    ap.add_argument("--dpi", type=int, default=200)
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "bench", help="where rendered scans are kept")
    ap.add_argument("--root", type=Path, help="score an existing set instead of the fixed one")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong cells per document")
    ap.add_argument("--config", type=Path, help="settings YAML (e.g. configs/gpu.yaml)")
    ap.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    a = ap.parse_args(argv)

    from extractor.config import Settings

    pipe = Pipeline(Settings.load(a.config))
    results: dict[str, dict] = {}
    if a.root:
        print(f"set {a.root}")
        results[a.root.name] = run_set(pipe, find_docs(a.root), a.errors)
    else:
        for sev in a.severity:
            docs = render_set(a.data, sev, a.synthetic, a.dpi)
            print(f"severity {sev}: {len(docs)} documents", flush=True)
            results[sev] = run_set(pipe, docs, a.errors)
    md = table_md(results)
    print()
    print(md)
    if not a.no_record:
        cmd = "python scripts/benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:])
        entry = (f"\n## {date.today().isoformat()}: extraction accuracy and speed\n\n"
                 f"Machine: {machine()}.  \nCommand: `{cmd.strip()}`\n\n{md}\n")
        bm = ROOT / "BENCHMARKS.md"
        if not bm.exists():
            bm.write_text("# Benchmarks\n\nEvery run of `scripts/benchmark.py` appends its figures here.\n", encoding="utf-8")
        with open(bm, "a", encoding="utf-8") as f:
            f.write(entry)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
