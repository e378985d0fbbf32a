"""Run extractor over rendered scans (DIR/<name>/doc.pdf + truth.json) and print accuracy figures.

    python scripts/evaluate.py data/dev [--pages 1-5] [--errors 20] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extractor.evaluate import Score, score_document  # noqa: E402
from extractor.pipeline import Pipeline  # noqa: E402


def find_docs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("truth.json") if (p.parent / "doc.pdf").exists())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("root", type=Path)
    ap.add_argument("--pages")
    ap.add_argument("--errors", type=int, default=15, help="print this many wrong cells")
    ap.add_argument("--json", type=Path, help="write the extracted documents here (a folder)")
    a = ap.parse_args(argv)
    pipe = Pipeline()
    total = Score()
    n_pages, secs = 0, 0.0
    for d in find_docs(a.root):
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        t0 = time.perf_counter()
        doc = pipe.run(d / "doc.pdf", pages=a.pages, dpi=truth.get("dpi", 200))
        dt = time.perf_counter() - t0
        s = score_document(doc, truth)
        total.add(s)
        n_pages += len(doc.pages)
        secs += dt
        m = s.summary()
        print(f"{d.name}: {len(doc.pages)} pages {dt / max(1, len(doc.pages)):.2f}s/page  tablesF1={m['tables_f1']:.3f} "
              f"grid={m['grid']:.3f} text={m['text']:.3f} numeric={m['numeric']:.3f} empty={m['empty']:.3f} "
              f"cont={m['continuation']:.2f}", flush=True)
        if a.json:
            a.json.mkdir(parents=True, exist_ok=True)
            (a.json / f"{d.name}.json").write_text(doc.model_dump_json(indent=1), encoding="utf-8")
    m = total.summary()
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}, ensure_ascii=False))
    print(f"pages={n_pages} seconds/page={secs / max(1, n_pages):.2f} pages/min={60 * n_pages / max(secs, 1e-9):.1f}")
    for e in total.errors[: a.errors]:
        print("  wrong p%d r%d c%d truth=%r got=%r" % e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
