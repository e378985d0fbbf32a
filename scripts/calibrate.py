"""Fit the map from raw cell confidence to calibrated probability (isotonic regression), on rendered
scans that the benchmark never uses, and write it to models/calibration.json with its model card.

    python scripts/calibrate.py                 # render (or reuse) the calibration set, fit, write
    python scripts/calibrate.py --docs 4        # fewer documents per severity

The calibration set: every seed transcript plus wholly synthetic documents, rendered with seeds
3000+ (the benchmark uses 1000+ and 2000+), at light, medium and heavy degradation. The fit uses
every true cell (empty ones too): was the extracted text exactly right? Half the documents fit
the map, the other half measure it (ECE before and after); the committed map is then refitted on
all of them.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from extractor.confidence import fit_isotonic  # noqa: E402
from extractor.evaluate import Score, ece, score_document  # noqa: E402
from extractor.pipeline import Pipeline  # noqa: E402

SEEDS_DIR = ROOT.parent / "shared" / "seeds"


def render_set(out: Path, n_synthetic: int) -> list[Path]:
    import synth

    docs = []
    for sev_i, sev in enumerate(["light", "medium", "heavy"]):
        jobs = [(f"seed_{s.stem[:3]}", 3000 + 10 * sev_i + i, str(s)) for i, s in enumerate(sorted(SEEDS_DIR.glob("*.txt")))]
        jobs += [(f"synthetic_{i:02d}", 3500 + 10 * sev_i + i, None) for i in range(n_synthetic)]
        for name, seed, src in jobs:
            d = out / sev / name
            if not (d / "truth.json").exists():
                synth.render_document(d, seed=seed, source=src, severity=sev, max_pages=12)
            docs.append(d)
    return docs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=2, help="synthetic documents per severity (besides the seeds)")
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "calibration")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "calibration.json")
    a = ap.parse_args(argv)
    pipe = Pipeline()
    pipe.calibration = None  # fit on the raw scores
    per_doc: list[list[tuple[float, bool]]] = []
    for d in render_set(a.data, a.docs):
        truth = json.loads((d / "truth.json").read_text(encoding="utf-8"))
        s: Score = score_document(pipe.run(d / "doc.pdf", dpi=truth.get("dpi", 200)), truth)
        per_doc.append(s.conf)
        print(f"{d.parent.name}/{d.name}: {len(s.conf)} cells, {sum(not ok for _, ok in s.conf)} wrong", flush=True)
    fit_part = [p for i, doc in enumerate(per_doc) if i % 2 == 0 for p in doc]
    test_part = [p for i, doc in enumerate(per_doc) if i % 2 == 1 for p in doc]
    cal = fit_isotonic(np.array([c for c, _ in fit_part]), np.array([ok for _, ok in fit_part], float))
    calibrated = [(cal(c), ok) for c, ok in test_part]
    wrong = [c for c, ok in calibrated if not ok]
    report = {
        "cells_fit": len(fit_part), "cells_test": len(test_part),
        "ece_raw_test": round(ece(test_part), 4), "ece_calibrated_test": round(ece(calibrated), 4),
        "wrong_below_0.9_test": round(sum(c < 0.9 for c in wrong) / max(1, len(wrong)), 4),
        "error_rate_test": round(len(wrong) / max(1, len(test_part)), 4),
    }
    everything = [p for doc in per_doc for p in doc]
    final = fit_isotonic(np.array([c for c, _ in everything]), np.array([ok for _, ok in everything], float))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    final.save(a.out, meta={"fitted": date.today().isoformat(), "documents": len(per_doc), **report})
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
