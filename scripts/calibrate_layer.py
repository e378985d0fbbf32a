#!/usr/bin/env python
"""Fit the confidence map of cells read from a PDF's text layer (``layer_cells`` in
models/calibration.json) on some born-digital documents and check it on others (issue 20).

    python scripts/calibrate_layer.py --fit-style excel --check-style word --docs 2 [--write]

Born-digital documents (scripts/synth/digital.py) of every layout family are read with the raw
text-layer scores (textlayer/page.py: ruled cell, cell of a grid from alignment, straddled text,
suspicious code point; capped where an arithmetic check breaks). The map (isotonic: raw score ->
share right, at most 0.999) is fitted on the documents drawn in ``--fit-style`` (seeds --seed..),
and checked on those drawn in ``--check-style`` with other seeds (--check-seed..): ECE and the share
of wrong cells under 0.9 before and after. Raw scores under the map's lowest knot keep their value
(finish.py): the map has seen no cell there. ``--write`` stores it in models/calibration.json.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calfit import fit_isotonic  # noqa: E402
from calibrate import wrong_below  # noqa: E402
from eval_digital import run_set  # noqa: E402
from extractor.evaluate import ece  # noqa: E402
from synth import FAMILIES  # noqa: E402
from synth.digital import render_digital_set  # noqa: E402


CAP = 0.999


def pairs_of(pipe, out: Path, families, seeds, style) -> list[tuple[float, bool]]:
    docs = render_digital_set(out, families, seeds, [style])
    buf = io.StringIO()
    run_set(pipe, docs, lambda st: f"digital_{st}.pdf", style, buf)
    return [(r["confidence"], r["right"]) for r in map(json.loads, buf.getvalue().splitlines())]


def report(name: str, pairs, fn=lambda c: c) -> str:
    mapped = [(float(fn(c)), ok) for c, ok in pairs]
    wrong = sum(not ok for _, ok in pairs)
    return (f"{name}: {len(pairs)} cells, {wrong} wrong, ECE {ece(mapped):.4f}, "
            f"wrong < 0.9 {wrong_below(mapped):.3f}, all < 0.9 {sum(c < 0.9 for c, _ in mapped) / max(1, len(mapped)):.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fit-style", default="excel")
    ap.add_argument("--check-style", default="word")
    ap.add_argument("--docs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=9300)
    ap.add_argument("--check-seed", type=int, default=9400)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "digital_cal")
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args(argv)

    from extractor.config import Settings
    from extractor.pipeline import Pipeline

    fams = list(FAMILIES)
    pipe = Pipeline(Settings(workers=1, calibrate=False))
    try:
        fit = pairs_of(pipe, a.out, fams, list(range(a.seed, a.seed + a.docs)), a.fit_style)
        check = pairs_of(pipe, a.out, fams, list(range(a.check_seed, a.check_seed + a.docs)), a.check_style)
    finally:
        pipe.close()
    cal = fit_isotonic(np.array([c for c, _ in fit]), np.array([ok for _, ok in fit], float))
    cal.y = [min(float(y), CAP) for y in cal.y]  # a machine's reading is never certain (1.0 is a reviewer's)
    print(report(f"fit ({a.fit_style}), raw", fit))
    mapped = lambda c: c if c < cal.x[0] else cal(c)  # noqa: E731 - as finish.py applies it
    print(report(f"fit ({a.fit_style}), mapped", fit, mapped))
    print(report(f"check ({a.check_style}, other seeds), raw", check))
    print(report(f"check ({a.check_style}, other seeds), mapped", check, mapped))
    print("map:", [(round(x, 3), round(y, 3)) for x, y in zip(cal.x, cal.y)])
    if a.write:
        p = ROOT / "models" / "calibration.json"
        data = json.loads(p.read_text(encoding="utf-8"))
        data["layer_cells"] = {"x": [float(v) for v in cal.x], "y": [float(v) for v in cal.y],
                               "meta": {"fitted": f"scripts/calibrate_layer.py --fit-style {a.fit_style} --docs {a.docs} "
                                                  f"--seed {a.seed}", "checked": f"{a.check_style}, seeds {a.check_seed}+",
                                        "fit_cells": len(fit), "check": report("check", check, mapped)}}
        p.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written: {p} (layer_cells)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
